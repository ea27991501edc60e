"""A CRM that is down, or that writes and then loses the answer: logs are delayed, never lost or doubled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from callbridge.services.outbox import RelaySettings
from tests.crm.crm_helpers import Crm
from tests.crm_integration.conftest import (
    CrmProxy,
    activities,
    connect_crm,
    enable_auto_log,
    make_crm_harness,
    restart,
)
from tests.crm_integration.flows import handle, outbox
from tests.e2e.conftest import Harness
from tests.waiting import wait_for


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    # backoff up to 1.5 s: a dead CRM is not hammered while the calls complete, and it recovers in seconds
    yield from make_crm_harness(
        tmp_path, RelaySettings(base_delay_seconds=0.1, max_delay_seconds=1.5, poll_seconds=0.5)
    )


@pytest.fixture
def ready(harness: Harness, crm: Crm) -> tuple[dict[str, str], dict[str, str]]:
    harness.setup_tenant("acme", agents=1)
    enable_auto_log(harness)
    agent = harness.sign_in("acme", "agent1")
    harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    return agent, harness.api_key("acme")


def test_a_crm_outage_delays_logs_but_loses_and_duplicates_none(
    harness: Harness, crm: Crm, ready: tuple[dict[str, str], dict[str, str]]
) -> None:
    agent, pbx = ready
    connect_crm(harness, crm)
    before = len(activities(crm))
    crm.server.stop()

    ids = [handle(harness, agent, pbx, notes=f"call {n}", from_address=f"+1415555{n:04d}") for n in range(100)]
    wait_for(lambda: any(r["attempts"] >= 2 for r in outbox(harness, "pending")), "a second attempt")
    assert len(outbox(harness, "pending")) == 100
    assert outbox(harness, "sent") == []
    restart(crm)
    wait_for(lambda: len(outbox(harness, "sent")) == 100, "all 100 logs sent")
    logged = [a for a in activities(crm)[before:] if a.external_id in set(ids)]
    assert sorted(a.external_id for a in logged) == sorted(ids)
    assert len(activities(crm)) == before + 100


def test_a_write_whose_answer_is_lost_is_written_once(
    harness: Harness, crm: Crm, ready: tuple[dict[str, str], dict[str, str]]
) -> None:
    agent, pbx = ready
    proxy = CrmProxy(crm.base_url, drops=5)
    try:
        connect_crm(harness, crm, base_url=proxy.url)
        before = len(activities(crm))
        ids = [handle(harness, agent, pbx, notes=f"dropped {n}", from_address="+14155550100") for n in range(5)]
        wait_for(lambda: len(outbox(harness, "sent")) == 5, "all 5 logs sent")
        assert proxy.dropped == 5
        logged = activities(crm)[before:]
        assert sorted(a.external_id for a in logged) == sorted(ids)
        # each lost answer cost exactly one more attempt, and nothing else did
        assert sum(r["attempts"] for r in outbox(harness, "sent")) == 5 + 5
    finally:
        proxy.close()
