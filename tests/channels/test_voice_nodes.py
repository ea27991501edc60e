"""Voice on several nodes (channels/voice_nodes.py), on one node's real state: the holder fails the calls of a
carrier that is gone (two rounds in a row), and sends its decisions about calls another node carries to it."""

from __future__ import annotations

from typing import Any

from callbridge.channels.voice_nodes import CARRIER_GONE, RESCAN_ROUNDS, GoneCarriers, VoiceRelay, voice_subject
from callbridge.store.live_state import stored_interaction_row
from tests.channels.conftest import Tenant


def call(tenant: Tenant, call_id: str, carrier: str) -> None:
    body = {
        "event_id": f"{call_id}.incoming",
        "type": "call.incoming",
        "call_id": call_id,
        "from_address": "+14155550100",
        "to_address": "+18005550000",
        "queue_id": "sales",
        "ivr": {"voice_node": carrier, "sip_call_id": f"{call_id}@trunk"},
    }
    response = tenant.harness.client.post("/api/v1/telephony/events", json=body, headers=tenant.pbx)
    assert response.status_code == 200, response.text


def state(tenant: Tenant, call_id: str) -> tuple[str, str]:
    row = stored_interaction_row(tenant.harness.services.engine, tenant.id, call_id)
    assert row is not None
    return row.state, row.end_reason


def test_the_calls_of_a_carrier_missing_at_two_rounds_fail_with_the_reason(tenant: Tenant) -> None:
    harness = tenant.harness
    gone = GoneCarriers(harness.services.node)
    call(tenant, "on-a", "node-a")
    call(tenant, "on-b", "node-b")
    call(tenant, "on-c", "node-c")

    # node-c is not seen at the first round (it joined since): not taken for dead once it shows up
    assert harness.run(gone.check(["node-a"])) == []
    assert harness.run(gone.check(["node-a", "node-c"])) == [(tenant.id, "on-b")]
    assert state(tenant, "on-b") == ("failed", CARRIER_GONE)
    assert state(tenant, "on-a")[0] == "queued"
    assert state(tenant, "on-c")[0] == "queued"
    assert harness.run(gone.check(["node-a", "node-c"])) == []
    # a call whose carrier never showed up while nothing else changed is still caught, a few rounds later
    call(tenant, "on-d", "node-d")
    failed = [harness.run(gone.check(["node-a", "node-c"])) for _ in range(2 * RESCAN_ROUNDS + 2)]
    assert [found for found in failed if found] == [[(tenant.id, "on-d")]]
    assert state(tenant, "on-d") == ("failed", CARRIER_GONE)


def test_the_holder_sends_decisions_about_calls_another_node_carries_to_that_node(tenant: Tenant) -> None:
    harness = tenant.harness
    node = harness.services.node
    sent: list[tuple[str, dict[str, Any]]] = []
    relay = VoiceRelay("node-a", lambda subject, body: sent.append((subject, body)))
    node.add_listener(relay)
    try:
        call(tenant, "here", "node-a")  # carried by the holder itself: its own controller follows its batches
        call(tenant, "there", "node-b")
        tenant.agent("agent1")  # available: offered the first call, then (once its caller left) the second
        end = {"event_id": "here.ended", "type": "call.abandoned", "call_id": "here"}
        assert harness.client.post("/api/v1/telephony/events", json=end, headers=tenant.pbx).status_code == 200
        harness.run(sent_when(lambda: any(body["k"] == "ring" for _s, body in sent)))
    finally:
        node.remove_listener(relay)
    assert all(body["i"] == "there" for _subject, body in sent), sent
    assert (voice_subject("node-b"), {"t": tenant.id, "i": "there", "k": "ring", "a": "agent1"}) in sent


async def sent_when(condition: Any, seconds: float = 10.0) -> None:
    """Lets the node's after-commit work run until `condition` holds."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the relay")
        await asyncio.sleep(0.01)
