"""One in-process Callbridge per test module; each test gets tenants of its own, so tests stay independent."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import Harness, make_harness

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    # every chat started in a module comes from one test client: its starts are not what these tests are about
    # (tests/security walks the rate limits)
    yield from make_harness(
        tmp_path_factory.mktemp("callbridge"), chat_reconnect_grace_seconds=0.2, chat_starts_per_minute=10_000
    )


@dataclass
class Tenant:
    """A fresh tenant with queues sales (phone), support (chat), messages (voicemail) and agents agent1, agent2."""

    id: str
    harness: Harness
    pbx: dict[str, str]

    def agent(self, agent_id: str = "agent1", *, available: bool = True) -> dict[str, str]:
        headers = self.harness.sign_in(self.id, agent_id)
        if available:
            response = self.harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=headers)
            assert response.status_code == 200, response.text
        return headers

    def snapshot(self) -> dict[str, object]:
        response = self.harness.client.get(f"/api/v1/tenants/{self.id}/snapshot", headers=self.harness.admin)
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result


def new_tenant(harness: Harness) -> Tenant:
    tenant_id = f"t{next(_numbers)}"
    harness.setup_tenant(tenant_id)
    return Tenant(tenant_id, harness, harness.api_key(tenant_id))


@pytest.fixture
def tenant(harness: Harness) -> Tenant:
    return new_tenant(harness)
