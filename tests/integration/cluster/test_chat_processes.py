"""Three `callbridge serve` processes on one PostgreSQL database and one NATS bus: a chat customer on a node
that does not hold the tenant. The customer's frames reach the holder, and the holder's frames (the agent
joining, the agent's messages, typing, delivered marks, the end) reach the customer's connection; a customer
who reconnects through another node within the grace period keeps the chat."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.integration.cluster.conftest import DEADLINE_SECONDS
from tests.integration.cluster.test_failover_processes import metric, wait_for
from tests.integration.cluster.test_forwarding_processes import Cluster, cluster, holder_and_others, set_up_tenant

__all__ = ["cluster"]

GRACE_SECONDS = 2


def open_customer(url: str, started: dict[str, Any], last_seq: int = 0) -> tuple[ClientConnection, dict[str, Any]]:
    socket = connect(f"ws{url.removeprefix('http')}{started['websocket']}", open_timeout=10, legacy=True)
    socket.send(json.dumps({"type": "hello", "token": started["token"], "last_seq": last_seq}))
    welcome: dict[str, Any] = json.loads(socket.recv(timeout=DEADLINE_SECONDS))
    assert welcome["type"] == "welcome", welcome
    return socket, welcome


def next_frame(socket: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(socket.recv(timeout=DEADLINE_SECONDS))
        if frame["type"] == kind:
            return frame


@pytest.mark.slow
def test_a_chat_customer_on_another_node_than_the_holder(cluster: Cluster) -> None:
    cluster.extra["CALLBRIDGE_CHAT_RECONNECT_GRACE_SECONDS"] = str(GRACE_SECONDS)
    _pbx, agent = set_up_tenant(cluster, chat=True)
    h, x, y = holder_and_others(cluster, agent)
    assert httpx.put(f"{y}/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200

    # the pre-chat form on a non-holder: queued there by the holder; a wrong queue is the holder's refusal
    form = {"queue": "support", "name": "Ada Lovelace", "email": "ada@example.com"}
    wrong = httpx.post(f"{x}/chat/v1/acme/conversations", json={**form, "queue": "sales"}, timeout=10)
    assert wrong.status_code == 409, wrong.text
    assert wrong.json()["field"] == "queue"
    started = httpx.post(f"{x}/chat/v1/acme/conversations", json=form, timeout=10)
    assert started.status_code == 201, started.text
    chat_id = started.json()["conversation_id"]
    seen = httpx.get(f"{h}/api/v1/me", headers=agent, timeout=10).json()["interactions"][chat_id]
    assert (seen["state"], seen["channel"]) == ("offered", "chat")

    customer, welcome = open_customer(x, started.json())
    try:
        assert welcome["conversation"]["state"] == "queued"
        # the customer writes while waiting: numbered by the holder
        customer.send(json.dumps({"type": "message", "text": "Anyone there?", "client_id": "m1"}))
        echoed = next_frame(customer, "message")
        assert (echoed["message"]["seq"], echoed["client_id"]) == (1, "m1")
        accepted = httpx.post(f"{y}/api/v1/me/offers/{chat_id}/accept", headers=agent, timeout=10)
        assert accepted.status_code == 200, accepted.text
        joined = next_frame(customer, "state")
        assert (joined["state"], joined["agent_name"]) == ("connected", "Agent 1")

        posted = httpx.post(f"{y}/api/v1/me/chats/{chat_id}/messages", json={"text": "Hello Ada"}, headers=agent)
        assert posted.status_code == 201, posted.text
        heard = next_frame(customer, "message")["message"]
        assert (heard["seq"], heard["sender"], heard["text"]) == (2, "agent", "Hello Ada")
        typing = httpx.post(f"{h}/api/v1/me/chats/{chat_id}/typing", json={"active": True}, headers=agent)
        assert typing.status_code == 204, typing.text
        assert next_frame(customer, "typing")["active"] is True
        delivered = httpx.post(f"{y}/api/v1/me/chats/{chat_id}/delivered", json={"up_to_seq": 1}, headers=agent)
        assert delivered.status_code == 204, delivered.text
        assert next_frame(customer, "delivered")["up_to_seq"] == 1
        customer.send(json.dumps({"type": "delivered", "up_to_seq": 2}))
        customer.send(json.dumps({"type": "message", "text": "My order is late", "client_id": "m2"}))
        assert next_frame(customer, "message")["message"]["seq"] == 3

        def transcript(url: str) -> list[dict[str, Any]]:
            found = httpx.get(f"{url}/api/v1/me/chats/{chat_id}/messages", headers=agent, timeout=10)
            assert found.status_code == 200, found.text
            messages: list[dict[str, Any]] = found.json()["messages"]
            return messages

        assert [m["text"] for m in transcript(h)] == ["Anyone there?", "Hello Ada", "My order is late"]
        wait_for(lambda: transcript(y)[1]["delivered_at"] is not None, "the customer's delivered mark")
    finally:
        customer.close()

    # the customer comes back through the other non-holder within the grace period: the node it left asks the
    # holder to end the chat when the grace runs out, and the holder knows the customer is back
    ends_asked = metric(x, 'callbridge_forwarded_total{outcome="answered"}')
    customer, welcome = open_customer(y, started.json(), last_seq=2)
    try:
        assert welcome["conversation"]["state"] == "connected"
        assert [m["seq"] for m in welcome["messages"]] == [3]
        wait_for(
            lambda: metric(x, 'callbridge_forwarded_total{outcome="answered"}') > ends_asked,
            "the node the customer left to ask the holder to end the chat",
        )
        still = httpx.get(f"{x}/api/v1/me", headers=agent, timeout=10).json()["interactions"][chat_id]
        assert still["state"] == "connected"
        answered = httpx.post(f"{x}/api/v1/me/chats/{chat_id}/messages", json={"text": "Let me look"}, headers=agent)
        assert answered.status_code == 201, answered.text
        assert next_frame(customer, "message")["message"]["text"] == "Let me look"
        customer.send(json.dumps({"type": "leave"}))
        wait_for(
            lambda: (
                httpx.get(f"{h}/api/v1/me", headers=agent, timeout=10).json()["interactions"][chat_id]["state"]
                == "wrap_up"
            ),
            "the chat to end when the customer leaves",
        )
    finally:
        customer.close()
