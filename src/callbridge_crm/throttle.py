"""Brute-force protection of the CRM's password sign-in (/login, which the OpenID Connect flows also use).

Failures are counted per account and per client address. The first few cost nothing; from the
`login_account_failures`-th (`login_address_failures`-th for an address) on, each one makes that account or
address wait before the next try: `login_delay_seconds`, doubling with every further failure, never more
than `login_max_delay_seconds`. While it waits, a sign-in is refused without checking the password (and is
not counted), with a message saying when to try again: nobody is locked out for good. A successful sign-in
clears both counts; failures a day old are forgotten. Every wait is logged as a warning.

The counts are rows of the CRM's database (`LoginFailure`): a restart forgives nothing. The client address is
the direct peer: the CRM trusts no forwarding header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callbridge_ratelimit.sign_in_backoff import SignInBackoff, SignInWait

from .config import CrmSettings
from .models import LoginFailure

log = logging.getLogger(__name__)

FORGET_SECONDS = 24 * 3600


Wait = SignInWait  # the rule and the words both apps share (callbridge_ratelimit)


class LoginThrottle:
    def __init__(self, engine: Engine, settings: CrmSettings, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    @staticmethod
    def _keys(email: str, address: str) -> tuple[str, str]:
        return f"account:{email.strip().lower()}", f"address:{address}"

    def delay(self, key: str, failures: int) -> float:
        settings = self.settings
        backoff = SignInBackoff(
            settings.login_account_failures,
            settings.login_address_failures,
            settings.login_delay_seconds,
            settings.login_max_delay_seconds,
        )
        free = backoff.account_failures if key.startswith("account:") else backoff.address_failures
        return backoff.delay(failures, free)

    def waiting(self, email: str, address: str) -> Wait | None:
        """Whether a sign-in must wait (asked before the password is checked)."""
        now = self.clock()
        with self.engine.connect() as connection:
            ends = connection.execute(
                select(LoginFailure.blocked_until).where(LoginFailure.key.in_(self._keys(email, address)))
            ).scalars()
            until = max(ends, default=0.0)
        return Wait(until, now) if until > now else None

    def failed(self, email: str, address: str) -> Wait | None:
        """Counts a wrong password (atomically, per key); returns the wait it starts, if any."""
        now = self.clock()
        longest = 0.0
        with self.engine.begin() as connection:
            dialect = connection.dialect.name
            for key in self._keys(email, address):
                insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LoginFailure)
                upsert = insert.values(
                    key=key, failures=1, last_failure_at=now, blocked_until=0.0
                ).on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        "failures": case(
                            (LoginFailure.last_failure_at < now - FORGET_SECONDS, 1), else_=LoginFailure.failures + 1
                        ),
                        "last_failure_at": now,
                    },
                )
                failures, until = connection.execute(
                    upsert.returning(LoginFailure.failures, LoginFailure.blocked_until)
                ).one()
                delay = self.delay(key, failures)
                if delay > 0 and now + delay > until:
                    until = now + delay
                    connection.execute(update(LoginFailure).where(LoginFailure.key == key).values(blocked_until=until))
                    log.warning(
                        "CRM sign-ins throttled: %s after %d failures in a row, for %d s", key, failures, round(delay)
                    )
                longest = max(longest, until)
        return Wait(longest, now) if longest > now else None

    def succeeded(self, email: str, address: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(LoginFailure).where(LoginFailure.key.in_(self._keys(email, address))))
