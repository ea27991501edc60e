"""One Callbridge per module for the security walks (real SQLite file, real ASGI app, TestClient)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Harness, make_harness


@pytest.fixture(scope="module")
def app_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """A Callbridge with tenant `t1` (queues, agents), shared by a module's tests that change nothing."""
    for harness in make_harness(tmp_path_factory.mktemp("callbridge")):
        harness.setup_tenant("t1")
        yield harness
