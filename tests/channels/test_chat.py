"""Web chat: pre-chat form, the customer's WebSocket, the agent's API and events, the kept transcript."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from tests.channels.conftest import Tenant

SITE = "https://shop.example.com"


def configure(tenant: Tenant, **settings: Any) -> Any:
    body = {"widget_origins": [SITE], **settings}
    return tenant.harness.client.put(
        f"/api/v1/tenants/{tenant.id}/chat/settings", json=body, headers=tenant.harness.admin
    )


def start(tenant: Tenant, origin: str = SITE, **form: Any) -> Any:
    body = {"queue": "support", "name": "Ada Lovelace", "email": "ada@example.com", "case_number": "00001234", **form}
    return tenant.harness.client.post(f"/chat/v1/{tenant.id}/conversations", json=body, headers={"Origin": origin})


@contextlib.contextmanager
def open_chat(
    tenant: Tenant, started: dict[str, Any], origin: str = SITE, last_seq: int = 0
) -> Iterator[WebSocketTestSession]:
    with tenant.harness.client.websocket_connect(started["websocket"], headers={"origin": origin}) as ws:
        ws.send_json({"type": "hello", "token": started["token"], "last_seq": last_seq})
        yield ws


def until(ws: WebSocketTestSession, kind: str, **match: Any) -> dict[str, Any]:
    for _ in range(30):
        frame: dict[str, Any] = json.loads(ws.receive_text())
        if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame
    raise AssertionError(f"no {kind} frame")


@contextlib.contextmanager
def agent_events(tenant: Tenant, agent: dict[str, str]) -> Iterator[WebSocketTestSession]:
    ticket = tenant.harness.client.post("/api/v1/realtime/tickets", headers=agent).json()
    with tenant.harness.client.websocket_connect(ticket["url"]) as ws:
        assert json.loads(ws.receive_text())["type"] == "init"
        yield ws


def agent_event(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    for _ in range(30):
        frame = json.loads(ws.receive_text())
        if frame["type"] == "event" and frame["event"]["type"] == kind:
            event: dict[str, Any] = frame["event"]
            return event
    raise AssertionError(f"no {kind} event")


def test_the_widget_gets_the_form_only_on_allowed_sites(tenant: Tenant) -> None:
    fields = [{"name": "order", "label": "Order number", "required": True, "max_length": 20}]
    assert configure(tenant, form_fields=fields).status_code == 200
    client = tenant.harness.client
    allowed = client.get(f"/chat/v1/{tenant.id}/widget?queue=support", headers={"Origin": SITE})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SITE
    assert [f["name"] for f in allowed.json()["fields"]] == ["name", "email", "case_number", "order"]
    refused = client.get(f"/chat/v1/{tenant.id}/widget?queue=support", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json()["field"] == "origin"
    assert "access-control-allow-origin" not in refused.headers
    preflight = client.options(
        f"/chat/v1/{tenant.id}/conversations",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"name": ""}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"queue": "sales"}, "queue"),
        ({"queue": "nowhere"}, "queue"),
        ({"fields": {"colour": "blue"}}, "fields.colour"),
        ({"fields": {}}, "fields.order"),
        ({"fields": {"order": "x" * 21}}, "fields.order"),
        ({"case_number": "1" * 65}, "case_number"),
    ],
)
def test_a_bad_pre_chat_form_is_refused_naming_the_field(tenant: Tenant, form: dict[str, Any], field: str) -> None:
    configure(tenant, form_fields=[{"name": "order", "label": "Order number", "required": True, "max_length": 20}])
    form.setdefault("fields", {"order": "A-1"})
    response = start(tenant, **form)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["field"] == field
    assert tenant.snapshot()["interactions"] == {}


def test_a_chat_from_form_to_wrap_up_with_both_sides_and_a_kept_transcript(tenant: Tenant) -> None:
    configure(tenant, form_fields=[{"name": "order", "label": "Order number"}])
    client = tenant.harness.client
    started = start(tenant, fields={"order": "A-1"}).json()
    chat_id = started["conversation_id"]
    interaction = tenant.snapshot()["interactions"][chat_id]  # type: ignore[index]
    assert interaction["channel"] == "chat"
    assert interaction["case_number"] == "00001234"
    assert interaction["from_address"] == "ada@example.com"
    assert interaction["data"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "order": "A-1",
        "case_number": "00001234",
    }
    with open_chat(tenant, started) as customer:
        welcome = until(customer, "welcome")
        assert welcome["conversation"]["state"] == "queued"
        customer.send_json({"type": "message", "text": "Hello? <img src=x onerror=alert(1)>", "client_id": "c1"})
        mine = until(customer, "message")
        assert mine["client_id"] == "c1"
        assert mine["message"]["seq"] == 1
        assert mine["message"]["text"] == "Hello? <img src=x onerror=alert(1)>"
        agent = tenant.agent("agent1")
        transcript = client.get(f"/api/v1/me/chats/{chat_id}/messages", headers=agent).json()
        assert [m["text"] for m in transcript["messages"]] == ["Hello? <img src=x onerror=alert(1)>"]
        assert transcript["customer_name"] == "Ada Lovelace"
        with agent_events(tenant, agent) as events:
            assert client.post(f"/api/v1/me/offers/{chat_id}/accept", headers=agent).status_code == 200
            connected = until(customer, "state")
            assert connected["state"] == "connected"
            assert connected["agent_name"] == "Agent 1"
            sent = client.post(f"/api/v1/me/chats/{chat_id}/messages", json={"text": "<b>Hi Ada</b>"}, headers=agent)
            assert sent.status_code == 201, sent.text
            assert sent.json()["seq"] == 2
            theirs = until(customer, "message")["message"]
            assert theirs == {**sent.json(), "delivered_at": None}
            assert theirs["sender"] == "agent"
            customer.send_json({"type": "delivered", "up_to_seq": 2})
            delivered = agent_event(events, "chat.delivered")
            assert delivered["sender"] == "agent"
            assert delivered["up_to_seq"] == 2
            client.post(f"/api/v1/me/chats/{chat_id}/typing", json={"active": True}, headers=agent)
            assert until(customer, "typing")["active"] is True
            customer.send_json({"type": "typing", "active": True})
            typing = agent_event(events, "chat.typing")
            assert typing == {"type": "chat.typing", "interaction_id": chat_id, "sender": "customer", "active": True}
            customer.send_json({"type": "message", "text": "My order A-1 is late", "client_id": "c2"})
            event = agent_event(events, "chat.message")
            assert event["seq"] == 3
            assert event["sender"] == "customer"
            assert event["text"] == "My order A-1 is late"
            assert event["id"] == f"{chat_id}:3"
            read = client.post(f"/api/v1/me/chats/{chat_id}/delivered", json={"up_to_seq": 3}, headers=agent)
            assert read.status_code == 204
            assert until(customer, "delivered")["up_to_seq"] == 3
            customer.send_json({"type": "leave"})
            with pytest.raises(WebSocketDisconnect):
                until(customer, "never")
    assert tenant.snapshot()["interactions"][chat_id]["state"] == "wrap_up"  # type: ignore[index]
    refused = client.post(f"/api/v1/me/chats/{chat_id}/messages", json={"text": "still there?"}, headers=agent)
    assert refused.status_code == 409
    assert client.post(f"/api/v1/me/interactions/{chat_id}/complete", json={}, headers=agent).status_code == 204
    kept = client.get(f"/api/v1/tenants/{tenant.id}/chats/{chat_id}/messages", headers=tenant.harness.admin).json()
    assert [(m["seq"], m["sender"]) for m in kept["messages"]] == [(1, "customer"), (2, "agent"), (3, "customer")]
    assert kept["messages"][0]["delivered_at"] is not None
    assert kept["messages"][1]["delivered_at"] is not None
    again = client.get(f"/api/v1/me/chats/{chat_id}/messages?after_seq=2", headers=agent).json()
    assert [m["seq"] for m in again["messages"]] == [3]


def test_a_customer_who_goes_away_while_queued_abandons_after_the_grace_period(tenant: Tenant) -> None:
    configure(tenant)
    started = start(tenant).json()
    with open_chat(tenant, started) as customer:
        until(customer, "welcome")
    for _ in range(100):
        if started["conversation_id"] not in tenant.snapshot()["interactions"]:  # type: ignore[operator]
            break
        time.sleep(0.02)
    row = tenant.harness.client.get(
        f"/api/v1/tenants/{tenant.id}/chats/{started['conversation_id']}/messages", headers=tenant.harness.admin
    )
    assert row.status_code == 200
    assert started["conversation_id"] not in tenant.snapshot()["interactions"]  # type: ignore[operator]


def test_a_customer_who_comes_back_in_time_keeps_the_chat_and_gets_what_they_missed(tenant: Tenant) -> None:
    configure(tenant)
    started = start(tenant).json()
    with open_chat(tenant, started) as customer:
        until(customer, "welcome")
        customer.send_json({"type": "message", "text": "one"})
        until(customer, "message")
    with open_chat(tenant, started, last_seq=0) as again:
        welcome = until(again, "welcome")
        assert [m["text"] for m in welcome["messages"]] == ["one"]
    time.sleep(0.1)
    with open_chat(tenant, started, last_seq=1) as again:
        assert until(again, "welcome")["messages"] == []
        assert tenant.snapshot()["interactions"][started["conversation_id"]]["state"] == "queued"  # type: ignore[index]
        again.send_json({"type": "leave"})


def test_the_customer_socket_checks_origin_token_size_and_rate(tenant: Tenant) -> None:
    configure(tenant)
    started = start(tenant).json()
    client = tenant.harness.client
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(started["websocket"], headers={"origin": "https://evil.example"}),
    ):
        pass
    assert refused.value.code == 4003
    with client.websocket_connect(started["websocket"], headers={"origin": SITE}) as ws:
        ws.send_json({"type": "hello", "token": "cbc_wrong"})
        with pytest.raises(WebSocketDisconnect) as bad:
            ws.receive_text()
        assert bad.value.code == 4001
    with open_chat(tenant, started) as customer:
        until(customer, "welcome")
        customer.send_json({"type": "message", "text": "x" * 2001, "client_id": "big"})
        error = until(customer, "error")
        assert error["field"] == "text"
        assert error["client_id"] == "big"
        customer.send_json({"type": "message", "text": "   \x00\x07 ", "client_id": "empty"})
        assert until(customer, "error")["field"] == "text"
        for n in range(30):
            customer.send_json({"type": "message", "text": f"spam {n}", "client_id": f"s{n}"})
        assert until(customer, "error", code="rate_limited")["client_id"].startswith("s")
        customer.send_json({"type": "leave"})


def test_chat_settings_are_for_admins_and_refuse_bad_values(tenant: Tenant) -> None:
    agent = tenant.agent("agent1", available=False)
    client = tenant.harness.client
    url = f"/api/v1/tenants/{tenant.id}/chat/settings"
    assert client.put(url, json={"widget_origins": [SITE]}, headers=agent).status_code == 403
    bad_origin = configure(tenant, widget_origins=["https://shop.example.com/path"])
    assert bad_origin.status_code == 422
    assert bad_origin.json()["field"] == "widget_origins.0"
    clash = configure(tenant, form_fields=[{"name": "email", "label": "Mail"}])
    assert clash.status_code == 422
    assert clash.json()["field"] == "form_fields.0.name"


def test_the_demo_page_carries_the_widget(tenant: Tenant) -> None:
    page = tenant.harness.client.get(f"/chat/demo?tenant={tenant.id}&queue=support")
    assert page.status_code == 200
    assert (
        f'<script src="/static/app/chat/widget.js" data-tenant="{tenant.id}" data-queue="support" async>' in page.text
    )
    assert tenant.harness.client.get("/chat/demo?tenant=%3Cscript%3E").status_code == 422
    widget = tenant.harness.client.get("/static/app/chat/widget.js")
    assert widget.status_code == 200
    assert "attachShadow" in widget.text
