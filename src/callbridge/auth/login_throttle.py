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
import math
from dataclasses import dataclass

from sqlalchemy import Engine

from callbridge.services.clock import Clock
from callbridge.store import login_throttle as store

log = logging.getLogger(__name__)

FORGET_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    account_failures: int = 5  # failures of one account before each further one delays the next try
    address_failures: int = 20  # the same, from one client address (several people may share it)
    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, failures: int, free_failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row."""
        if failures < free_failures:
            return 0.0
        return float(min(self.base_seconds * 2 ** min(failures - free_failures, 40), self.max_seconds))


@dataclass(frozen=True, slots=True)
class Throttled:
    """A sign-in refused until `until` (seconds since the epoch)."""

    until: float
    now: float

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait (the `Retry-After` header), at least 1."""
        return max(1, math.ceil(self.until - self.now))

    @property
    def message(self) -> str:
        seconds = self.retry_after
        wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
        return f"Too many failed sign-ins: try again in {wait}."


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
