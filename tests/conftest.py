"""Fixtures shared by every suite: the real services the tests talk to.

PostgreSQL and Debian's chromium are real. When one is missing the
tests that need it are skipped with a message saying how to get it, except
under CI=true, where a missing service is a failure: CI must never pass by
skipping.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from tests import loop_watch
from tests.loop_watch import event_loop_never_blocked  # noqa: F401  (autouse: on for every test)

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion from a synchronous test.

    On a thread of its own: Playwright's sync API keeps an event loop running on the
    test thread once a browser is up, and asyncio.run refuses to nest in it."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def until_closed(page: Any) -> None:
    """Waits for a pop-up to close, also when it closed before anyone started waiting
    (a sign-in pop-up closes itself as soon as it has handed the sign-in over)."""
    if not page.is_closed():
        page.wait_for_event("close")


def missing_service(what: str, how: str) -> None:
    """Skips the test saying how to get what is missing; under CI=true, fails it instead."""
    message = f"{what} is not available: {how}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run every test, so this is a failure)")
    pytest.skip(message)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("CALLBRIDGE_TEST_PG_URL", "")
    if not url or not _reachable(url, 5432):
        missing_service("PostgreSQL", "run scripts/test, which starts it, or set CALLBRIDGE_TEST_PG_URL")
    return url


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The bus the nodes of a cluster share (NATS; adr/0009)."""
    url = os.environ.get("CALLBRIDGE_TEST_NATS_URL", "nats://127.0.0.1:4222")
    if not _reachable(url, 4222):
        missing_service(
            "NATS", "apt-get install nats-server (scripts/services starts it), or set CALLBRIDGE_TEST_NATS_URL"
        )
    return url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, driven by Playwright (never a downloaded browser).

    One per test module: Playwright's sync API keeps its event loop on the test thread while it
    runs, which would stop asyncio tests that a worker runs after a browser module."""
    if not Path(CHROMIUM).exists():
        missing_service("Chromium", "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps screenshots worth looking at after the run."""
    path = ARTIFACTS / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_configure(config: pytest.Config) -> None:
    loop_watch.install()


# Files whose tests start engines, processes or browsers and take minutes: run first, so that with
# `-n 2 --dist loadfile` the quick files fill the other worker's time instead of one worker finishing alone.
SLOW_FIRST = ("tests/voice/", "tests/integration/cluster/", "_browser.py", "tests/e2e/test_demo")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def slow(item: pytest.Item) -> bool:
        path = item.nodeid.split("::", 1)[0]
        return any(part in path for part in SLOW_FIRST)

    items.sort(key=lambda item: not slow(item))  # stable: each file keeps its own order
