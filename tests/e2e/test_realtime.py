"""The event WebSocket: offers arrive, reconnects get a snapshot then events, silent agents lose their offers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from callbridge.realtime.wire import apply_event
from tests.e2e.conftest import Harness, make_harness


def open_events(harness: Harness, headers: dict[str, str], origin: str | None = None) -> WebSocketTestSession:
    params = {"tenant_id": "acme"} if headers is harness.admin else {}
    ticket = harness.client.post("/api/v1/realtime/tickets", headers=headers, params=params)
    assert ticket.status_code == 201, ticket.text
    extra = {"origin": origin} if origin else {}
    return harness.client.websocket_connect(ticket.json()["url"], headers=extra)


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.receive_text())
    return frame


def next_event(ws: WebSocketTestSession, kind: str, **match: Any) -> dict[str, Any]:
    for _ in range(50):
        frame = receive(ws)
        if frame["type"] != "event" or frame["event"]["type"] != kind:
            continue
        body = frame["event"].get("interaction") or frame["event"].get("agent") or frame["event"]
        if all(body.get(k) == v for k, v in match.items()):
            return frame["event"]
    raise AssertionError(f"no {kind} event matching {match}")


def test_an_offer_reaches_the_agents_socket(harness: Harness) -> None:
    harness.setup_tenant("acme")
    agent = harness.sign_in("acme", "agent1")
    pbx = harness.api_key("acme")
    harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    with open_events(harness, agent) as ws:
        init = receive(ws)
        assert init["type"] == "init"
        assert init["snapshot"]["me"] == "agent1"
        assert init["snapshot"]["agents"]["agent1"]["status"] == "available"
        created = harness.client.post(
            "/api/v1/interactions",
            json={"queue_id": "sales", "channel": "phone", "from_address": "+14155550100"},
            headers=pbx,
        ).json()
        offer = next_event(ws, "interaction.changed", id=created["id"])
        assert offer["interaction"]["state"] == "offered"
        assert offer["interaction"]["agent_id"] == "agent1"
        assert offer["interaction"]["from_address"] == "+14155550100"
        assert offer["interaction"]["offer_deadline"] > time.time()


def test_reconnect_gives_a_snapshot_then_events_without_gap_or_duplicate(harness: Harness) -> None:
    harness.setup_tenant("acme", agents=3)
    agents = {a: harness.sign_in("acme", a) for a in ("agent1", "agent2", "agent3")}
    pbx = harness.api_key("acme")
    c = harness.client
    for headers in agents.values():
        c.put("/api/v1/me/status", json={"status": "available"}, headers=headers)
    with open_events(harness, harness.admin) as first:
        receive(first)
        c.post("/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx)
    # the supervisor's view changes while nobody listens, then it reconnects
    second_call = c.post("/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx).json()
    with open_events(harness, harness.admin) as again:
        state = receive(again)["snapshot"]
        assert second_call["id"] in state["interactions"]
        seen_seq = []
        # more changes after the snapshot: applying the events must give the server's own snapshot
        c.post(f"/api/v1/me/offers/{second_call['id']}/accept", headers=agents[second_call["agent_id"]])
        c.post("/api/v1/interactions", json={"queue_id": "support", "channel": "chat"}, headers=pbx)
        c.put("/api/v1/me/status", json={"status": "break", "reason": "lunch"}, headers=agents["agent3"])
        expected = c.get("/api/v1/tenants/acme/snapshot", headers=harness.admin).json()
        deadline = time.time() + 3
        while time.time() < deadline:
            frame = receive(again)
            seen_seq.append(frame["seq"])
            state = apply_event(state, frame["event"])
            if _comparable(state) == _comparable(expected):
                break
        assert _comparable(state) == _comparable(expected)
        assert seen_seq == list(range(1, len(seen_seq) + 1)), "events arrive in order, none twice"


def _comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without the fields the REST view adds (times since now)."""
    return {
        "agents": {
            k: {f: v[f] for f in ("status", "reason", "since", "interaction_ids")}
            for k, v in snapshot["agents"].items()
        },
        "queues": {
            k: {f: v[f] for f in ("waiting", "oldest_enqueued_at", "ready_agents")}
            for k, v in snapshot["queues"].items()
        },
        "interactions": {k: (v["state"], v["agent_id"]) for k, v in snapshot["interactions"].items()},
    }


def test_a_socket_from_a_foreign_origin_is_refused(harness: Harness) -> None:
    harness.setup_tenant("acme")
    agent = harness.sign_in("acme", "agent1")
    with pytest.raises(WebSocketDisconnect) as refused, open_events(harness, agent, origin="https://evil.example"):
        pass
    assert refused.value.code == 4003


def test_a_socket_without_a_valid_ticket_is_refused(harness: Harness) -> None:
    harness.setup_tenant("acme")
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        harness.client.websocket_connect("/api/v1/realtime?ticket=nope"),
    ):
        pass
    assert refused.value.code == 4001
    agent = harness.sign_in("acme", "agent1")
    url = harness.client.post("/api/v1/realtime/tickets", headers=agent).json()["url"]
    with harness.client.websocket_connect(url) as ws:
        assert receive(ws)["type"] == "init"
    with pytest.raises(WebSocketDisconnect) as reused, harness.client.websocket_connect(url):
        pass
    assert reused.value.code == 4001, "a ticket works once"


@pytest.fixture
def quick_heartbeat(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path, heartbeat_timeout_seconds=0.6)


def test_a_silent_agent_loses_the_offer_and_goes_on_break(quick_heartbeat: Harness) -> None:
    harness = quick_heartbeat
    harness.setup_tenant("acme", agents=2)
    silent = harness.sign_in("acme", "agent1")
    pbx = harness.api_key("acme")
    c = harness.client
    c.put("/api/v1/me/status", json={"status": "available"}, headers=silent)
    call = c.post("/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx).json()
    assert call["agent_id"] == "agent1"
    alive = harness.sign_in("acme", "agent2")
    with open_events(harness, alive) as ws:
        receive(ws)
        c.put("/api/v1/me/status", json={"status": "available"}, headers=alive)
        # agent2 keeps pinging; agent1 says nothing and is declared gone
        deadline = time.time() + 5
        offered_to_agent2 = None
        while time.time() < deadline and offered_to_agent2 is None:
            ws.send_text(json.dumps({"id": 1, "type": "ping"}))
            frame = receive(ws)
            if frame["type"] == "event" and frame["event"]["type"] == "interaction.changed":
                interaction = frame["event"]["interaction"]
                if interaction["id"] == call["id"] and interaction["agent_id"] == "agent2":
                    offered_to_agent2 = interaction
            time.sleep(0.05)
    assert offered_to_agent2 is not None, "the offer moved to the agent who is still there"
    snapshot = c.get("/api/v1/tenants/acme/snapshot", headers=harness.admin).json()
    assert snapshot["agents"]["agent1"]["status"] == "break"
    assert snapshot["agents"]["agent1"]["reason"] == "connection_lost"


def test_an_agent_who_is_also_a_supervisor_gets_an_agents_view_and_their_offers(harness: Harness) -> None:
    """The demo's first account is agent, supervisor and admin: its console must show its own status and
    offers (`me` set), while the wallboard asks for the tenant's view."""
    harness.setup_tenant("acme")
    boss = {
        "email": "agent1@acme.example",
        "display_name": "Agent 1",
        "roles": ["agent", "supervisor", "admin"],
        "queue_ids": ["sales", "support", "messages"],
    }
    made = harness.client.put("/api/v1/tenants/acme/agents/agent1", json=boss, headers=harness.admin)
    assert made.status_code == 200, made.text
    agent = harness.sign_in("acme", "agent1")
    pbx = harness.api_key("acme")
    harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    with open_events(harness, agent) as ws:
        init = receive(ws)
        assert init["snapshot"]["me"] == "agent1"
        assert set(init["snapshot"]["queues"]) == {"sales", "support", "messages"}
        created = harness.client.post(
            "/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx
        ).json()
        offer = next_event(ws, "interaction.changed", id=created["id"])
        assert offer["interaction"]["state"] == "offered"
        assert offer["interaction"]["agent_id"] == "agent1"
    url = harness.client.post("/api/v1/realtime/tickets", headers=agent).json()["url"]
    with harness.client.websocket_connect(url + "&view=tenant") as ws:
        assert receive(ws)["snapshot"]["me"] is None, "the wallboard's view of the same person"


def test_a_view_the_principal_may_not_have_is_refused(harness: Harness) -> None:
    harness.setup_tenant("acme")
    agent = harness.sign_in("acme", "agent1")
    for view in ("tenant", "everything"):
        url = harness.client.post("/api/v1/realtime/tickets", headers=agent).json()["url"]
        with pytest.raises(WebSocketDisconnect) as refused, harness.client.websocket_connect(f"{url}&view={view}"):
            pass
        assert refused.value.code == 4005, view
    url = harness.client.post("/api/v1/realtime/tickets", headers=harness.admin, params={"tenant_id": "acme"})
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        harness.client.websocket_connect(url.json()["url"] + "&view=agent"),
    ):
        pass
    assert refused.value.code == 4005
