"""How long a password sign-in waits after failures in a row, and how the wait is told: one rule for both apps.

Failures are counted per account and per client address (each app stores its counts in its own database). The
first `free` failures cost nothing; from then on each one makes the next try wait `base_seconds`, doubling with
every further failure, never more than `max_seconds`. Nobody is locked out for good: waiting is enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SignInBackoff:
    account_failures: int = 5  # failures of one account before each further one delays the next try
    address_failures: int = 20  # the same, from one client address (several people may share it)
    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, failures: int, free_failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row."""
        if failures < free_failures:
            return 0.0
        longest = max(self.max_seconds, self.base_seconds)
        return float(min(self.base_seconds * 2 ** min(failures - free_failures, 40), longest))


@dataclass(frozen=True, slots=True)
class SignInWait:
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
