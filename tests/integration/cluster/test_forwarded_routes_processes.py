"""Three `callbridge serve` processes on one PostgreSQL database and one NATS bus: the routes that change a
call's state outside the console's commands (a PBX's telephony events, an agent's hold and resume) reach
the tenant's holder from any node, and the answer there is the holder's answer, status and body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.channels.test_hold import SECRET, PbxStandIn
from tests.integration.cluster.conftest import DEADLINE_SECONDS
from tests.integration.cluster.test_failover_processes import LEASE_SECONDS, PASSWORD, metric, wait_for
from tests.integration.cluster.test_forwarding_processes import Cluster, cluster, holder_and_others, set_up_tenant

__all__ = ["cluster"]  # the fixture, shared with the forwarding tests


def answer(response: httpx.Response) -> tuple[int, Any, str | None]:
    return response.status_code, response.json(), response.headers.get("Idempotent-Replayed")


@pytest.mark.slow
def test_telephony_events_and_hold_reach_the_holder_from_any_node(cluster: Cluster) -> None:
    cluster.extra["CALLBRIDGE_OUTBOUND_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the PBX stand-in's webhook
    pbx_endpoint = PbxStandIn()
    try:
        pbx, agent = set_up_tenant(cluster)
        h, x, y = holder_and_others(cluster, agent)
        token = httpx.post(
            f"{x}/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD}, timeout=10
        )
        admin = {"Authorization": f"Bearer {token.json()['token']}"}
        settings = {"webhook_url": pbx_endpoint.url, "signing_secret": SECRET, "timeout_seconds": 5}
        saved = httpx.put(f"{x}/api/v1/tenants/acme/telephony/settings", json=settings, headers=admin, timeout=10)
        assert saved.status_code == 200, saved.text
        assert httpx.put(f"{y}/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200

        def event(event_id: str, kind: str, **fields: Any) -> dict[str, Any]:
            return {"event_id": event_id, "type": kind, "call_id": "call1", **fields}

        incoming = event("e1", "call.incoming", queue_id="sales", from_address="+14155550100")
        first = httpx.post(f"{y}/api/v1/telephony/events", json=incoming, headers=pbx, timeout=10)
        assert first.status_code == 200, first.text
        assert first.json()["applied"] is True
        assert first.json()["interaction"]["agent_id"] == "agent1"
        # the same event again: the first answer, replayed, wherever it is sent
        replayed = answer(httpx.post(f"{h}/api/v1/telephony/events", json=incoming, headers=pbx, timeout=10))
        assert replayed == (200, first.json(), "true")
        assert answer(httpx.post(f"{x}/api/v1/telephony/events", json=incoming, headers=pbx, timeout=10)) == replayed
        # a different body under a used event id: the holder's 409, unchanged
        changed = {**incoming, "from_address": "+14155550199"}
        refused = answer(httpx.post(f"{h}/api/v1/telephony/events", json=changed, headers=pbx, timeout=10))
        assert refused[0] == 409
        assert refused[1]["field"] == "event_id"
        assert answer(httpx.post(f"{x}/api/v1/telephony/events", json=changed, headers=pbx, timeout=10)) == refused
        unknown = event("e0", "call.answered", agent_id="agent1") | {"call_id": "nope"}
        missing = answer(httpx.post(f"{h}/api/v1/telephony/events", json=unknown, headers=pbx, timeout=10))
        assert missing[0] == 404
        assert answer(httpx.post(f"{y}/api/v1/telephony/events", json=unknown, headers=pbx, timeout=10)) == missing

        answered = httpx.post(
            f"{x}/api/v1/telephony/events", json=event("e2", "call.answered", agent_id="agent1"), headers=pbx
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["interaction"]["state"] == "connected"

        # hold and resume from a console on a non-holder: the holder tells the PBX, records, answers
        held = httpx.post(f"{x}/api/v1/me/interactions/call1/hold", headers=agent, timeout=10)
        assert held.status_code == 200, held.text
        assert "on_hold_since" in held.json()["data"]
        again = answer(httpx.post(f"{h}/api/v1/me/interactions/call1/hold", headers=agent, timeout=10))
        assert again[0] == 409
        assert answer(httpx.post(f"{y}/api/v1/me/interactions/call1/hold", headers=agent, timeout=10)) == again
        state = httpx.get(f"{y}/api/v1/me/interactions/call1/hold", headers=agent, timeout=10)
        assert state.status_code == 200, state.text
        assert state.json()["on_hold_since"] is not None
        resumed = httpx.post(f"{y}/api/v1/me/interactions/call1/resume", headers=agent, timeout=10)
        assert resumed.status_code == 200, resumed.text
        assert "on_hold_since" not in resumed.json()["data"]
        sent = len(pbx_endpoint.commands)
        assert sent == 2, pbx_endpoint.commands

        # the admin stops hold through another node: the holder, which kept the settings in memory, forgets them
        without_hold = {**settings, "commands": ["connect"]}
        changed_settings = httpx.put(
            f"{y}/api/v1/tenants/acme/telephony/settings", json=without_hold, headers=admin, timeout=10
        )
        assert changed_settings.status_code == 200, changed_settings.text

        def hold_refused() -> bool:  # the change crosses the bus: until it lands, a hold may still be sent
            tried = httpx.post(f"{x}/api/v1/me/interactions/call1/hold", headers=agent, timeout=10)
            if tried.status_code == 200:
                assert httpx.post(f"{x}/api/v1/me/interactions/call1/resume", headers=agent).status_code == 200
                return False
            assert tried.status_code == 503, tried.text
            return "does not take the 'hold' command" in tried.json()["message"]

        wait_for(hold_refused, "every node to forget the PBX settings it kept", LEASE_SECONDS * 5)
        restored = httpx.put(f"{x}/api/v1/tenants/acme/telephony/settings", json=settings, headers=admin, timeout=10)
        assert restored.status_code == 200, restored.text
        pbx_endpoint.status = 500

        def pbx_asked_again() -> bool:
            tried = httpx.post(f"{y}/api/v1/me/interactions/call1/hold", headers=agent, timeout=10)
            return tried.status_code == 503 and "HTTP 500" in tried.json()["message"]

        wait_for(pbx_asked_again, "every node to follow the restored settings", LEASE_SECONDS * 5)

        # the PBX refuses: its refusal crosses as the holder's 503, and nothing changed
        pbx_endpoint.status = 500
        failed = answer(httpx.post(f"{h}/api/v1/me/interactions/call1/hold", headers=agent, timeout=10))
        assert failed[0] == 503
        assert failed[1]["error"] == "telephony_unavailable"
        assert answer(httpx.post(f"{x}/api/v1/me/interactions/call1/hold", headers=agent, timeout=10)) == failed
        pbx_endpoint.status = 200

        # the PBX reports hold itself, through a non-holder
        reported = httpx.post(f"{y}/api/v1/telephony/events", json=event("e3", "call.held"), headers=pbx, timeout=10)
        assert reported.status_code == 200, reported.text
        assert reported.json()["applied"] is True
        ended = httpx.post(f"{x}/api/v1/telephony/events", json=event("e4", "call.ended"), headers=pbx, timeout=10)
        assert ended.status_code == 200, ended.text
        assert ended.json()["interaction"]["state"] == "wrap_up"
        # the live wallboard, read through a non-holder: the holder's figures (`at` is when it was read)
        here = httpx.get(f"{h}/api/v1/tenants/acme/reports/wallboard", headers=admin, timeout=10)
        assert here.status_code == 200, here.text
        there = httpx.get(f"{y}/api/v1/tenants/acme/reports/wallboard", headers=admin, timeout=10)
        assert there.status_code == 200, there.text
        assert {**there.json(), "at": 0} == {**here.json(), "at": 0}
        assert [a["interaction_ids"] for a in there.json()["agents"]] == [["call1"]]
        monitored = httpx.get(f"{x}/api/v1/tenants/acme/snapshot", headers=admin, timeout=10)
        assert monitored.status_code == 200, monitored.text
        assert monitored.json()["agents"]["agent1"]["status"] == "wrap_up"
        # queues configured through non-holders: applied on the holder, its refusals unchanged
        queues = "/api/v1/tenants/acme/queues"
        billing = {"id": "billing", "name": "Billing", "channel": "phone", "wrap_up_seconds": 12}
        created = httpx.post(f"{x}{queues}", json=billing, headers=admin, timeout=10)
        assert created.status_code == 201, created.text
        read_there = answer(httpx.get(f"{y}{queues}/billing", headers=admin, timeout=10))
        assert read_there == answer(httpx.get(f"{h}{queues}/billing", headers=admin, timeout=10))
        assert read_there[1]["wrap_up_seconds"] == 12
        twice = answer(httpx.post(f"{h}{queues}", json=billing, headers=admin, timeout=10))
        assert twice[0] == 409
        assert answer(httpx.post(f"{y}{queues}", json=billing, headers=admin, timeout=10)) == twice
        renamed = httpx.put(f"{y}{queues}/billing", json={**billing, "name": "Bills"}, headers=admin, timeout=10)
        assert renamed.status_code == 200, renamed.text
        listed = answer(httpx.get(f"{x}{queues}", headers=admin, timeout=10))
        assert listed == answer(httpx.get(f"{h}{queues}", headers=admin, timeout=10))
        assert [q["name"] for q in listed[1]] == ["Bills", "Sales"]
        busy = answer(httpx.delete(f"{h}{queues}/sales", headers=admin, timeout=10))
        assert busy[0] == 409, busy
        assert answer(httpx.delete(f"{x}{queues}/sales", headers=admin, timeout=10)) == busy
        assert httpx.delete(f"{x}{queues}/billing", headers=admin, timeout=10).status_code == 204
        assert httpx.get(f"{h}{queues}/billing", headers=admin, timeout=10).status_code == 404

        # agents and skills too
        tenant = "/api/v1/tenants/acme"
        assert httpx.post(f"{y}{tenant}/skills", json={"name": "french"}, headers=admin).status_code == 201
        agent2 = {"id": "agent2", "email": "agent2@acme.example", "display_name": "Agent 2", "queue_ids": ["sales"]}
        made = httpx.post(f"{x}{tenant}/agents", json={**agent2, "skills": {"french": 3}}, headers=admin)
        assert made.status_code == 201, made.text
        taken = answer(httpx.post(f"{h}{tenant}/agents", json=agent2, headers=admin, timeout=10))
        assert taken[0] == 409
        assert answer(httpx.post(f"{y}{tenant}/agents", json=agent2, headers=admin, timeout=10)) == taken
        in_use = answer(httpx.delete(f"{h}{tenant}/skills/french", headers=admin, timeout=10))
        assert in_use[0] == 409, in_use
        assert answer(httpx.delete(f"{x}{tenant}/skills/french", headers=admin, timeout=10)) == in_use
        changed = httpx.put(f"{y}{tenant}/agents/agent2", json={**agent2, "skills": {}}, headers=admin, timeout=10)
        assert changed.status_code == 200, changed.text
        assert httpx.delete(f"{x}{tenant}/skills/french", headers=admin, timeout=10).status_code == 204
        assert httpx.delete(f"{y}{tenant}/agents/agent2", headers=admin, timeout=10).status_code == 204
        gone = answer(httpx.delete(f"{h}{tenant}/agents/agent2", headers=admin, timeout=10))
        assert gone[0] == 404
        assert answer(httpx.delete(f"{x}{tenant}/agents/agent2", headers=admin, timeout=10)) == gone

        assert metric(x, 'callbridge_forwarded_total{outcome="answered"}') >= 4
        assert metric(x, 'callbridge_forwarded_total{outcome="refused"}') >= 2
    finally:
        pbx_endpoint.close()


@pytest.mark.slow
def test_an_agents_chat_actions_reach_the_holder_from_any_node(cluster: Cluster) -> None:
    _pbx, agent = set_up_tenant(cluster, chat=True)
    h, x, y = holder_and_others(cluster, agent)
    assert httpx.put(f"{x}/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
    # the customer is on the holder here; a customer on another node is test_chat_processes.py
    form = {"queue": "support", "name": "Ada Lovelace", "email": "ada@example.com"}
    started = httpx.post(f"{h}/chat/v1/acme/conversations", json=form, timeout=10)
    assert started.status_code == 201, started.text
    chat_id = started.json()["conversation_id"]
    customer = connect(f"ws{h.removeprefix('http')}{started.json()['websocket']}", open_timeout=10, legacy=True)
    try:
        customer.send(json.dumps({"type": "hello", "token": started.json()["token"]}))
        assert json.loads(customer.recv(timeout=DEADLINE_SECONDS))["type"] == "welcome"
        accepted = httpx.post(f"{x}/api/v1/me/offers/{chat_id}/accept", headers=agent, timeout=10)
        assert accepted.status_code == 200, accepted.text

        posted = httpx.post(f"{x}/api/v1/me/chats/{chat_id}/messages", json={"text": "Hello Ada"}, headers=agent)
        assert posted.status_code == 201, posted.text
        assert posted.json()["seq"] == 1
        assert posted.json()["agent_id"] == "agent1"

        def next_frame(kind: str) -> dict[str, Any]:
            while True:
                frame: dict[str, Any] = json.loads(customer.recv(timeout=DEADLINE_SECONDS))
                if frame["type"] == kind:
                    return frame

        assert next_frame("message")["message"]["text"] == "Hello Ada"
        second = httpx.post(f"{y}/api/v1/me/chats/{chat_id}/messages", json={"text": "How can I help?"}, headers=agent)
        assert second.status_code == 201, second.text
        assert second.json()["seq"] == 2, "one numbering, kept by the holder"
        assert next_frame("message")["message"]["seq"] == 2
        typing = httpx.post(f"{y}/api/v1/me/chats/{chat_id}/typing", json={"active": True}, headers=agent)
        assert typing.status_code == 204, typing.text
        assert next_frame("typing")["active"] is True
        customer.send(json.dumps({"type": "message", "text": "My order", "client_id": "m1"}))
        wait_for(
            lambda: len(httpx.get(f"{x}/api/v1/me/chats/{chat_id}/messages", headers=agent).json()["messages"]) == 3,
            "the customer's message in the transcript",
        )
        delivered = httpx.post(f"{x}/api/v1/me/chats/{chat_id}/delivered", json={"up_to_seq": 3}, headers=agent)
        assert delivered.status_code == 204, delivered.text
        assert next_frame("delivered")["up_to_seq"] == 3
        transcript = answer(httpx.get(f"{h}/api/v1/me/chats/{chat_id}/messages", headers=agent, timeout=10))
        assert transcript[0] == 200
        assert transcript[1]["messages"][2]["delivered_at"] is not None
        assert answer(httpx.get(f"{y}/api/v1/me/chats/{chat_id}/messages", headers=agent, timeout=10)) == transcript

        # refusals come back as the holder gives them
        for path, body in (("messages", {"text": "hi"}), ("typing", {"active": False})):
            there = answer(httpx.post(f"{h}/api/v1/me/chats/nope/{path}", json=body, headers=agent, timeout=10))
            assert there[0] == 404
            assert answer(httpx.post(f"{x}/api/v1/me/chats/nope/{path}", json=body, headers=agent)) == there
        ended = httpx.post(f"{x}/api/v1/me/interactions/{chat_id}/end", json={}, headers=agent, timeout=10)
        assert ended.status_code in (200, 204), ended.text
        late = answer(httpx.post(f"{h}/api/v1/me/chats/{chat_id}/messages", json={"text": "?"}, headers=agent))
        assert late[0] == 409, late
        assert answer(httpx.post(f"{y}/api/v1/me/chats/{chat_id}/messages", json={"text": "?"}, headers=agent)) == late
    finally:
        customer.close()
