"""The telephony events API: calls become interactions, exactly once per event id."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from callbridge.channels.base import TelephonyEvent
from callbridge.channels.telephony import TelephonyService, body_fingerprint
from callbridge.domain import commands as cmd
from callbridge.domain.model import AgentProfile, AgentStatus, Channel
from callbridge.realtime.hub import Hub
from callbridge.services.clock import ManualClock
from callbridge.services.node import ContactCenterNode
from callbridge.store.database import make_engine, upgrade
from callbridge.store.tables import queues, tenants
from tests.channels.conftest import Tenant, new_tenant
from tests.conftest import run_coroutine
from tests.e2e.conftest import Harness


def send(tenant: Tenant, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return tenant.harness.client.post("/api/v1/telephony/events", json=body, headers=headers or tenant.pbx)


def incoming(event_id: str = "e1", call_id: str = "call-1", **more: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "call.incoming",
        "call_id": call_id,
        "from_address": "+14155550100",
        "to_address": "+18005550000",
        "queue_id": "sales",
        "ivr": {"menu": "2", "account": "1234"},
        **more,
    }


def test_an_incoming_call_is_queued_with_caller_id_dialled_number_and_ivr_data(tenant: Tenant) -> None:
    response = send(tenant, **incoming())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["applied"] is True
    assert body["interaction_id"] == "call-1"
    interaction = body["interaction"]
    assert interaction["state"] == "queued"
    assert interaction["channel"] == "phone"
    assert interaction["from_address"] == "+14155550100"
    assert interaction["to_address"] == "+18005550000"
    assert interaction["data"] == {"menu": "2", "account": "1234"}


def test_the_same_event_twice_is_applied_once_and_answered_the_same(tenant: Tenant) -> None:
    first = send(tenant, **incoming())
    again = send(tenant, **incoming())
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json() == first.json()
    assert list(tenant.snapshot()["interactions"]) == ["call-1"]  # type: ignore[call-overload]


def test_a_different_body_under_a_used_event_id_is_a_conflict_naming_event_id(tenant: Tenant) -> None:
    send(tenant, **incoming())
    response = send(tenant, **incoming(from_address="+14155550199"))
    assert response.status_code == 409
    assert response.json()["field"] == "event_id"


def test_a_call_rings_is_answered_and_ends_in_wrap_up(tenant: Tenant) -> None:
    agent = tenant.agent("agent1")
    offered = send(tenant, **incoming()).json()["interaction"]
    assert offered["state"] == "offered"
    assert offered["agent_id"] == "agent1"
    answered = send(tenant, event_id="e2", type="call.answered", call_id="call-1", agent_id="agent1").json()
    assert answered["applied"] is True
    assert answered["interaction"]["state"] == "connected"
    ended = send(tenant, event_id="e3", type="call.ended", call_id="call-1", reason="caller hung up").json()
    assert ended["interaction"]["state"] == "wrap_up"
    # the agent completes; a late hang-up with a new event id changes nothing
    done = tenant.harness.client.post("/api/v1/me/interactions/call-1/complete", json={}, headers=agent)
    assert done.status_code == 204
    late = send(tenant, event_id="e4", type="call.ended", call_id="call-1")
    assert late.status_code == 200
    assert late.json()["applied"] is False
    assert late.json()["interaction"]["state"] == "completed"
    # the PBX reuses the call id for a new call: refused by name, the ended call's record untouched
    reused = send(tenant, **incoming(event_id="e5"))
    assert (reused.status_code, reused.json()["field"]) == (409, "call_id")
    after = send(tenant, event_id="e6", type="call.ended", call_id="call-1").json()
    assert after["interaction"]["state"] == "completed"


def test_a_caller_who_hangs_up_while_waiting_is_abandoned(tenant: Tenant) -> None:
    send(tenant, **incoming())
    body = send(tenant, event_id="e2", type="call.abandoned", call_id="call-1").json()
    assert body["interaction"]["state"] == "abandoned"
    assert body["applied"] is True


def test_a_call_that_dies_while_connected_fails_with_its_reason_and_frees_the_agent(tenant: Tenant) -> None:
    tenant.agent("agent1")
    send(tenant, **incoming())
    send(tenant, event_id="e2", type="call.answered", call_id="call-1", agent_id="agent1")
    body = send(tenant, event_id="e3", type="call.failed", call_id="call-1", reason="media lost").json()
    assert body["applied"] is True
    assert body["interaction"]["state"] == "failed"
    again = send(tenant, event_id="e4", type="call.failed", call_id="call-1", reason="media lost").json()
    assert again["applied"] is False


def test_an_answer_after_the_agent_accepted_in_the_console_changes_nothing(tenant: Tenant) -> None:
    agent = tenant.agent("agent1")
    send(tenant, **incoming())
    assert tenant.harness.client.post("/api/v1/me/offers/call-1/accept", headers=agent).status_code == 200
    body = send(tenant, event_id="e2", type="call.answered", call_id="call-1").json()
    assert body["applied"] is False
    assert body["interaction"]["state"] == "connected"


def test_an_answer_by_another_agent_than_the_one_offered_is_refused(tenant: Tenant) -> None:
    tenant.agent("agent1")
    send(tenant, **incoming())
    response = send(tenant, event_id="e2", type="call.answered", call_id="call-1", agent_id="agent2")
    assert response.status_code == 409
    assert response.json()["field"] == "agent_id"


def test_outbound_calls_are_requested_answered_and_ended(tenant: Tenant) -> None:
    agent = tenant.agent("agent2", available=False)
    body = {"type": "outbound.requested", "agent_id": "agent2", "to_address": "+33142685300"}
    requested = send(tenant, event_id="o1", call_id="out-1", **body).json()
    assert requested["interaction"]["direction"] == "outbound"
    assert requested["interaction"]["state"] == "connected"
    assert requested["interaction"]["agent_id"] == "agent2"
    answered = send(tenant, event_id="o2", type="outbound.answered", call_id="out-1").json()
    assert answered["applied"] is False
    assert answered["interaction"]["state"] == "connected"
    ended = send(tenant, event_id="o3", type="outbound.ended", call_id="out-1").json()
    assert ended["interaction"]["state"] == "wrap_up"
    client = tenant.harness.client
    assert client.post("/api/v1/me/interactions/out-1/complete", json={}, headers=agent).status_code == 204
    # click to dial in the console, then the PBX reports that call: it is recognised, not made twice
    placed = client.post("/api/v1/me/calls", json={"to_address": "+14155550123"}, headers=agent)
    assert placed.status_code == 201, placed.text
    again = send(tenant, event_id="o4", call_id=placed.json()["id"], **body).json()
    assert again["applied"] is False
    assert again["interaction"]["id"] == placed.json()["id"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"event_id": "x", "type": "call.incoming", "call_id": "c1"}, 422, "queue_id"),
        ({"event_id": "x", "type": "call.incoming", "call_id": "c1", "queue_id": "nope"}, 422, "queue_id"),
        ({"event_id": "x", "type": "call.incoming", "call_id": "c1", "queue_id": "support"}, 409, "queue_id"),
        ({"event_id": "x", "type": "call.incoming", "call_id": "bad id!", "queue_id": "sales"}, 422, "call_id"),
        ({"event_id": "x", "type": "call.ringing", "call_id": "c1"}, 422, "type"),
        ({"event_id": "", "type": "call.ended", "call_id": "c1"}, 422, "event_id"),
        ({"event_id": "x", "type": "outbound.requested", "call_id": "c1", "to_address": "1"}, 422, "agent_id"),
        ({"event_id": "x", "type": "outbound.requested", "call_id": "c1", "agent_id": "agent1"}, 422, "to_address"),
        ({"event_id": "x", "type": "call.incoming", "call_id": "c1", "queue_id": "sales", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_events_are_refused_naming_the_field_and_change_nothing(
    tenant: Tenant, body: dict[str, Any], status: int, field: str
) -> None:
    response = send(tenant, **body)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert tenant.snapshot()["interactions"] == {}
    # a refused event id was not used up
    assert send(tenant, **incoming(event_id="x")).status_code == 200


def test_unknown_calls_are_404_and_tenants_never_see_each_others_calls(harness: Harness, tenant: Tenant) -> None:
    assert send(tenant, event_id="e9", type="call.ended", call_id="nope").status_code == 404
    other = new_tenant(harness)
    send(tenant, **incoming())
    assert send(other, event_id="e2", type="call.ended", call_id="call-1").status_code == 404
    # the same event id in another tenant is another event
    assert send(other, **incoming(call_id="call-9")).json()["applied"] is True


def test_only_integrations_post_telephony_events(tenant: Tenant) -> None:
    agent = tenant.agent("agent1", available=False)
    assert send(tenant, agent, **incoming()).status_code == 403


def test_a_hang_up_that_races_the_end_of_wrap_up_answers_with_the_interaction(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(tenants).values(id="acme", name="Acme", created_at=0.0, allowed_origins=[], settings={})
        )
        connection.execute(
            insert(queues).values(
                tenant_id="acme", id="sales", name="Sales", channel="phone", created_at=0.0, wrap_up_seconds=5
            )
        )
    try:
        run_coroutine(hang_up_racing_wrap_up(engine))
    finally:
        engine.dispose()


async def hang_up_racing_wrap_up(engine: Engine) -> None:
    """The carrier's `call.abandoned` is planned on the state of one batch, in which the wrap-up ends (the call
    completes and leaves memory); it is applied in the next batch. Its answer must still show the interaction."""
    clock = ManualClock()
    node = ContactCenterNode(engine, Hub(), clock)
    service = TelephonyService(engine, node, default_wrap_up_seconds=5)
    await node.start()
    try:
        profile = AgentProfile("a1", "a1@acme.example", "A1", queue_ids=("sales",))
        await node.configure("acme", lambda cc, now: cc.upsert_agent(profile, now), lambda connection: None)
        await node.execute("acme", cmd.SignIn("a1"))
        await node.execute("acme", cmd.SetPresence("a1", AgentStatus.AVAILABLE))
        await node.execute("acme", cmd.SubmitInteraction("call-1", "sales", Channel.PHONE))
        await node.execute("acme", cmd.AcceptOffer("a1", "call-1"))
        await node.execute("acme", cmd.EndInteraction("call-1", "agent hung up"))  # wrap-up, 5 s
        await node.publish_summaries_once()  # nothing left for the digest task to read meanwhile
        clock.advance(6)  # the wrap-up is due: the next batch ends it, after the plan's read

        event = TelephonyEvent("e1", "call.abandoned", "call-1")
        fingerprint = body_fingerprint({"event_id": "e1"})
        first = await asyncio.wait_for(service.handle("acme", event, fingerprint), timeout=10)
        again = await asyncio.wait_for(service.handle("acme", event, fingerprint), timeout=10)
        assert first.body["applied"] is False
        assert first.body["interaction"] is not None, "the answer shows the interaction, as docs/channels.md says"
        assert first.body["interaction"]["state"] == "completed"
        assert again.replayed
        assert again.body == first.body
    finally:
        await node.stop()
