"""Waiting in tests: on a condition, never a fixed sleep, with one generous deadline so that a busy machine
slows a test down instead of failing it (CALLBRIDGE_TEST_DEADLINE_SECONDS, 60 by default)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
DEADLINE_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_DEADLINE_SECONDS", "60"))


def wait_for(check: Callable[[], T], what: str, timeout: float = DEADLINE_SECONDS, interval: float = 0.05) -> T:
    """Calls `check` until it returns something true, and returns that; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
