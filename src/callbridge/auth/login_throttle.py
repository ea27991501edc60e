"""Brute-force protection for password sign-ins (Callbridge's local administrators).

Failures are counted per account and per client address (the address rate limits use, so behind a proxy
only `CALLBRIDGE_TRUSTED_PROXIES` can name it). The first few failures cost nothing; from the
`free_failures`-th on, each one blocks that account or address for an increasing time (`base_seconds`,
doubling with every further failure, never more than `max_seconds`). While blocked, a sign-in is refused
without even checking the password, with the time left (HTTP 429 and `Retry-After` from the API), and is not
counted: waiting is enough, nobody is ever locked out for good. A successful sign-in clears both counts;
failures older than `FORGET_SECONDS` are forgotten. Each block is logged (a warning, for the operator) and
listed on the administrators' page.

Counts live in the database (callbridge.store.login_throttle): they survive a restart and are shared by
every node.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from callbridge.services.clock import Clock
from callbridge.store import login_throttle as store
from callbridge_ratelimit.sign_in_backoff import SignInBackoff, SignInWait

log = logging.getLogger(__name__)

FORGET_SECONDS = 24 * 3600


ThrottlePolicy = SignInBackoff  # the rule both apps share (callbridge_ratelimit)
Throttled = SignInWait


class LoginThrottle:
    def __init__(self, engine: Engine, clock: Clock, policy: ThrottlePolicy, kind: str = "admin") -> None:
        self.engine = engine
        self.clock = clock
        self.policy = policy
        self.kind = kind

    def _keys(self, account: str, address: str) -> tuple[str, str]:
        return f"{self.kind}:{account.strip().lower()}", f"{self.kind}-address:{address}"

    def refused(self, account: str, address: str) -> Throttled | None:
        """Whether a sign-in must wait (checked before the password is)."""
        now = self.clock.now()
        until = store.blocked_until(self.engine, self._keys(account, address))
        return Throttled(until, now) if until > now else None

    def failed(self, account: str, address: str) -> Throttled | None:
        """Counts a wrong password; returns the block it causes, if any."""
        now = self.clock.now()
        account_key, address_key = self._keys(account, address)

        def block(key: str, failures: int) -> float:
            free = self.policy.account_failures if key == account_key else self.policy.address_failures
            return self.policy.delay(failures, free)

        counts = store.record_failure(self.engine, (account_key, address_key), now, now - FORGET_SECONDS, block)
        until = max(count.blocked_until for count in counts)
        if until <= now:
            return None
        for count in counts:
            if count.blocked_until > now:
                seconds = round(count.blocked_until - now)
                log.warning(
                    "password sign-ins throttled: %s after %d failures in a row, for %d s",
                    count.key,
                    count.failures,
                    seconds,
                    extra={"key": count.key, "failures": count.failures, "seconds": seconds},
                )
        return Throttled(until, now)

    def succeeded(self, account: str, address: str) -> None:
        store.forget(self.engine, self._keys(account, address))

    def recent(self) -> list[store.FailureCount]:
        """What the administrators' page lists: accounts and addresses that failed in the last day."""
        return store.recent_failures(self.engine, self.clock.now() - FORGET_SECONDS)
