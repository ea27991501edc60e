"""The agent API (`/api/v1/me…`), the integrations' API (`/api/v1/interactions…`), tickets and operations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Harness, make_harness
from tests.e2e.test_api_admin import error_of, new_tenant, tenant_state


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One app for the module; each test works in a tenant of its own."""
    yield from make_harness(tmp_path_factory.mktemp("agent"), heartbeat_timeout_seconds=3600)


def _available(h: Harness, headers: dict[str, str]) -> None:
    response = h.client.put("/api/v1/me/status", json={"status": "available"}, headers=headers)
    assert response.status_code == 200, response.text


def _call(h: Harness, pbx: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = h.client.post(
        "/api/v1/interactions", json={"queue_id": "sales", "channel": "phone", **fields}, headers=pbx
    )
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def test_status(h: Harness) -> None:
    t = new_tenant(h)
    me = h.sign_in(t, "agent1")
    c = h.client
    state = c.get("/api/v1/me", headers=me).json()
    assert (state["tenant_id"], state["me"]) == (t, "agent1")
    assert state["agents"]["agent1"]["status"] == "break"
    assert set(state["queues"]) == {"sales", "support", "messages"}
    for status, reason in (("available", ""), ("working_offline", ""), ("break", "lunch")):
        answer = c.put("/api/v1/me/status", json={"status": status, "reason": reason}, headers=me)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["status"], answer.json()["reason"]) == (status, reason)
        assert c.get("/api/v1/me", headers=me).json()["agents"]["agent1"]["status"] == status


def test_offers_accept_reject_and_conflicts(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    one, two = h.sign_in(t, "agent1"), h.sign_in(t, "agent2")
    pbx = h.api_key(t)
    _available(h, one)
    offered = _call(h, pbx, id="c1", from_address="+14155550100")
    assert (offered["state"], offered["agent_id"]) == ("offered", "agent1")
    before = tenant_state(h, t)
    error_of(c.post("/api/v1/me/offers/c1/accept", headers=two), 409)  # not offered to agent2
    error_of(c.post("/api/v1/me/offers/c1/reject", headers=two), 409)
    error_of(c.post("/api/v1/me/offers/nope/accept", headers=one), 404)
    error_of(c.post("/api/v1/me/offers/nope/reject", headers=one), 404)
    assert tenant_state(h, t) == before
    # rejected: back to the queue, offered to the next available agent; the rejecter goes on break
    _available(h, two)
    assert c.post("/api/v1/me/offers/c1/reject", headers=one).status_code == 204
    me = c.get("/api/v1/me", headers=one).json()["agents"]["agent1"]
    assert (me["status"], me["reason"]) == ("break", "missed_offer")
    assert c.get("/api/v1/interactions/c1", headers=pbx).json()["agent_id"] == "agent2"
    accepted = c.post("/api/v1/me/offers/c1/accept", headers=two)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["state"], accepted.json()["agent_id"]) == ("connected", "agent2")
    before = tenant_state(h, t)
    error_of(c.post("/api/v1/me/offers/c1/accept", headers=two), 409)  # twice
    error_of(c.post("/api/v1/me/offers/c1/reject", headers=two), 409)
    assert tenant_state(h, t) == before


def test_end_complete_and_their_conflicts(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    one, two = h.sign_in(t, "agent1"), h.sign_in(t, "agent2")
    pbx = h.api_key(t)
    _available(h, one)
    _call(h, pbx, id="c1")
    assert c.post("/api/v1/me/offers/c1/accept", headers=one).status_code == 200
    before = tenant_state(h, t)
    error_of(c.post("/api/v1/me/interactions/c1/end", json={}, headers=two), 409)  # not agent2's
    error_of(c.post("/api/v1/me/interactions/c1/complete", json={}, headers=two), 409)
    error_of(c.post("/api/v1/me/interactions/nope/end", json={}, headers=one), 404)
    error_of(c.post("/api/v1/me/interactions/nope/complete", json={}, headers=one), 404)
    assert tenant_state(h, t) == before
    ended = c.post("/api/v1/me/interactions/c1/end", json={"reason": "solved"}, headers=one)
    assert ended.status_code == 200, ended.text
    assert ended.json()["state"] == "wrap_up"
    error_of(c.post("/api/v1/me/interactions/c1/end", json={}, headers=one), 409)  # ended twice
    done = c.post("/api/v1/me/interactions/c1/complete", json={"disposition": "sold", "notes": "n"}, headers=one)
    assert done.status_code == 204, done.text
    final = c.get("/api/v1/interactions/c1", headers=pbx).json()
    assert (final["state"], final["disposition"]) == ("completed", "sold")
    before = tenant_state(h, t)
    error_of(c.post("/api/v1/me/interactions/c1/complete", json={}, headers=one), 409)  # completed twice
    error_of(c.post("/api/v1/me/interactions/c1/end", json={}, headers=one), 409)
    error_of(c.post("/api/v1/me/offers/c1/accept", headers=one), 409)
    error_of(c.post("/api/v1/interactions/c1/end", json={}, headers=pbx), 409)
    assert tenant_state(h, t) == before


def test_no_offer_during_wrap_up_unless_the_queue_says_so(h: Harness) -> None:
    t = new_tenant(h, agents=1)
    c = h.client
    one = h.sign_in(t, "agent1")
    pbx = h.api_key(t)
    support = c.get(f"/api/v1/tenants/{t}/queues/support", headers=h.admin).json()
    assert support["offer_during_wrap_up"] is False  # as Connect and Flex: after-call work is left alone
    _available(h, one)
    _call(h, pbx, id="c1")
    assert c.post("/api/v1/me/offers/c1/accept", headers=one).status_code == 200
    assert c.post("/api/v1/interactions/c1/end", json={"reason": "hangup"}, headers=pbx).status_code == 200
    chat = c.post("/api/v1/interactions", json={"id": "chat1", "queue_id": "support", "channel": "chat"}, headers=pbx)
    assert chat.json()["state"] == "queued"  # agent1 is in wrap-up: not offered
    # the admin allows it: the waiting chat is offered at once
    changed = c.put(
        f"/api/v1/tenants/{t}/queues/support", json={**support, "offer_during_wrap_up": True}, headers=h.admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["offer_during_wrap_up"] is True
    assert c.get("/api/v1/interactions/chat1", headers=pbx).json()["state"] == "offered"


def test_an_offer_missed_mid_chat_is_not_absence(h: Harness) -> None:
    t = new_tenant(h, agents=1)
    c = h.client
    one = h.sign_in(t, "agent1")
    pbx = h.api_key(t)
    _available(h, one)
    for n in (1, 2):
        body = {"id": f"chat{n}", "queue_id": "support", "channel": "chat"}
        assert c.post("/api/v1/interactions", json=body, headers=pbx).status_code == 201
    assert c.post("/api/v1/me/offers/chat1/accept", headers=one).status_code == 200
    assert c.post("/api/v1/me/offers/chat2/reject", headers=one).status_code == 204
    me = c.get("/api/v1/me", headers=one).json()["agents"]["agent1"]
    assert (me["status"], me["reason"]) == ("busy", "")  # not on break: she is working on chat1
    assert c.get("/api/v1/interactions/chat2", headers=pbx).json()["state"] == "queued"  # held back, not re-offered
    # the miss is recorded (an offer that ended rejected), not as a break
    timeline = c.get(f"/api/v1/tenants/{t}/reports/agents/agent1/timeline", headers=h.admin).json()
    assert "break" not in [s["status"] for s in timeline["statuses"][1:]]
    (chat2,) = [i for i in timeline["interactions"] if i["interaction_id"] == "chat2"]
    assert [e.get("outcome") for e in chat2["events"] if e["type"] == "offer_ended"] == ["rejected"]
    report = c.get(f"/api/v1/tenants/{t}/reports/agents", params={"agent_id": "agent1"}, headers=h.admin).json()
    assert report["agents"][0]["missed"] == 1
    # when she lets go of chat1, the chat she missed comes back to her
    c.post("/api/v1/me/interactions/chat1/complete", json={"disposition": "done"}, headers=one)
    assert c.get("/api/v1/interactions/chat2", headers=pbx).json()["state"] == "offered"


def test_transfer(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    assert (
        c.post(f"/api/v1/tenants/{t}/queues", json={"id": "billing", "name": "B", "channel": "phone"}, headers=h.admin)
    ).status_code == 201
    one = h.sign_in(t, "agent1")
    pbx = h.api_key(t)
    _available(h, one)
    _call(h, pbx, id="c1")
    assert c.post("/api/v1/me/offers/c1/accept", headers=one).status_code == 200
    before = tenant_state(h, t)
    error_of(c.post("/api/v1/me/interactions/c1/transfer", json={"queue_id": "support"}, headers=one), 409)
    error_of(c.post("/api/v1/me/interactions/c1/transfer", json={"queue_id": "nope"}, headers=one), 422, "queue_id")
    error_of(c.post("/api/v1/me/interactions/nope/transfer", json={"queue_id": "billing"}, headers=one), 404)
    error_of(c.post("/api/v1/me/interactions/c1/transfer", json={"target": "nope"}, headers=one), 422, "target")
    error_of(c.post("/api/v1/me/interactions/c1/transfer", json={}, headers=one), 422, "target")
    both = {"target": "billing", "queue_id": "billing"}
    error_of(c.post("/api/v1/me/interactions/c1/transfer", json=both, headers=one), 422, "target")
    # agent2 is not signed in: they cannot take it
    error_of(c.post("/api/v1/me/interactions/c1/transfer", json={"target": "agent2"}, headers=one), 409)
    assert tenant_state(h, t) == before
    moved = c.post("/api/v1/me/interactions/c1/transfer", json={"queue_id": "billing"}, headers=one)
    assert moved.status_code == 204, moved.text
    view = c.get("/api/v1/interactions/c1", headers=pbx).json()
    assert (view["state"], view["queue_id"], view["agent_id"]) == ("queued", "billing", None)
    error_of(c.post("/api/v1/me/interactions/c1/transfer", json={"queue_id": "billing"}, headers=one), 409)


def test_click_to_dial(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    one = h.sign_in(t, "agent1")
    body = {"to_address": "+14155550123", "queue_id": "sales", "data": {"record": "003xx"}}
    placed = c.post("/api/v1/me/calls", json=body, headers=one)
    assert placed.status_code == 201, placed.text
    call = placed.json()
    assert (call["direction"], call["state"], call["agent_id"], call["to_address"]) == (
        "outbound",
        "connected",
        "agent1",
        "+14155550123",
    )
    assert call["data"] == {"record": "003xx"}
    before = tenant_state(h, t)
    error_of(c.post("/api/v1/me/calls", json={"to_address": "+1"}, headers=one), 409)  # one call at a time
    assert tenant_state(h, t) == before
    assert call["end_reason"] == ""
    busy = {"event_id": f"{call['id']}-busy", "type": "outbound.ended", "call_id": call["id"], "reason": "busy"}
    assert c.post("/api/v1/telephony/events", json=busy, headers=h.api_key(t)).status_code in (200, 201)
    ended = c.get("/api/v1/me", headers=one).json()["interactions"][call["id"]]
    assert (ended["state"], ended["end_reason"]) == ("wrap_up", "busy")  # the console says why
    assert c.post(f"/api/v1/me/interactions/{call['id']}/complete", json={}, headers=one).status_code == 204


def test_sign_out(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    one = h.sign_in(t, "agent1")
    placed = c.post("/api/v1/me/calls", json={"to_address": "+14155550123"}, headers=one).json()
    before = tenant_state(h, t)
    error_of(c.post("/api/v1/me/sign-out", headers=one), 409)  # still on a call
    assert tenant_state(h, t) == before
    assert c.post(f"/api/v1/me/interactions/{placed['id']}/complete", json={}, headers=one).status_code == 204
    assert c.post("/api/v1/me/sign-out", headers=one).status_code == 204
    error_of(c.get("/api/v1/me", headers=one), 401)
    error_of(c.post("/api/v1/me/sign-out", headers=one), 401)
    row = c.get(f"/api/v1/tenants/{t}/agents/agent1", headers=h.admin).json()
    assert row["status"] == "logged_out"


AGENT_ROUTES = [
    ("get", "/api/v1/me", None),
    ("put", "/api/v1/me/status", {"status": "available"}),
    ("post", "/api/v1/me/offers/c1/accept", None),
    ("post", "/api/v1/me/offers/c1/reject", None),
    ("post", "/api/v1/me/interactions/c1/end", {}),
    ("post", "/api/v1/me/interactions/c1/complete", {}),
    ("post", "/api/v1/me/interactions/c1/transfer", {"queue_id": "sales"}),
    ("post", "/api/v1/me/calls", {"to_address": "+1"}),
    ("post", "/api/v1/me/sign-out", None),
]
INTEGRATION_ROUTES = [
    ("post", "/api/v1/interactions", {"queue_id": "sales", "channel": "phone"}),
    ("post", "/api/v1/interactions/c1/end", {}),
    ("get", "/api/v1/interactions/c1", None),
]


def test_credentials_and_roles(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    agent, pbx = h.sign_in(t, "agent1"), h.api_key(t)
    _call(h, pbx, id="c1")
    before = tenant_state(h, t)
    for method, path, body in AGENT_ROUTES + INTEGRATION_ROUTES:
        for headers in ({}, {"Authorization": "Bearer cbs_forged"}, {"Authorization": "Bearer cbk_forged"}):
            error_of(c.request(method, path, json=body, headers=headers), 401)
    for method, path, body in AGENT_ROUTES:  # integration keys and local admins are not agents
        for headers in (pbx, h.admin):
            error_of(c.request(method, path, json=body, headers=headers), 403)
    for method, path, body in INTEGRATION_ROUTES:  # nor are agents and admins integrations
        for headers in (agent, h.admin):
            error_of(c.request(method, path, json=body, headers=headers), 403)
    error_of(c.post("/api/v1/realtime/tickets"), 401)
    assert tenant_state(h, t) == before


def _bad(field: str, body: dict[str, Any]) -> Any:
    return pytest.param(body, field, id=f"{field}-{'-'.join(map(str, body.values()))[:30]}")


ME_BAD = {
    "/api/v1/me/status": [
        _bad("status", {"status": "busy"}),
        _bad("status", {"status": "logged_out"}),
        _bad("status", {"status": 1}),
        _bad("status", {}),
        _bad("reason", {"status": "break", "reason": "r" * 201}),
        _bad("mood", {"status": "break", "mood": "sad"}),
    ],
    "/api/v1/me/interactions/c1/end": [_bad("reason", {"reason": "r" * 201}), _bad("x", {"x": 1})],
    "/api/v1/me/interactions/c1/complete": [
        _bad("notes", {"notes": "n" * 32001}),
        _bad("disposition", {"disposition": ["sold"]}),
        _bad("agent_id", {"agent_id": "agent2"}),
    ],
    "/api/v1/me/interactions/c1/transfer": [
        _bad("queue_id", {"queue_id": "no such"}),
        _bad("queue_id", {"queue_id": "nowhere"}),
        _bad("target", {}),
        _bad("target", {"target": "no such"}),
        _bad("target", {"target": "+1"}),
        _bad("target", {"target": "nowhere"}),
    ],
    "/api/v1/me/calls": [
        _bad("to_address", {"to_address": ""}),
        _bad("to_address", {"to_address": "1" * 65}),
        _bad("queue_id", {"to_address": "+1", "queue_id": "nowhere"}),
        _bad("queue_id", {"to_address": "+1", "queue_id": "-x"}),
        _bad("data.k", {"to_address": "+1", "data": {"k": "v" * 1001}}),
        _bad("data", {"to_address": "+1", "data": {str(n): "v" for n in range(51)}}),
        _bad("from_address", {"to_address": "+1", "from_address": "+2"}),
    ],
    "/api/v1/interactions": [
        _bad("queue_id", {"queue_id": "nowhere", "channel": "phone"}),
        _bad("queue_id", {"queue_id": "no where", "channel": "phone"}),
        _bad("channel", {"queue_id": "sales", "channel": "fax"}),
        _bad("channel", {"queue_id": "sales", "channel": "chat"}),
        _bad("id", {"id": "c1", "queue_id": "sales", "channel": "phone"}),
        _bad("id", {"id": "bad id", "queue_id": "sales", "channel": "phone"}),
        _bad("priority", {"queue_id": "sales", "channel": "phone", "priority": 101}),
        _bad("priority", {"queue_id": "sales", "channel": "phone", "priority": "urgent"}),
        _bad("from_address", {"queue_id": "sales", "channel": "phone", "from_address": "f" * 321}),
        _bad("case_number", {"queue_id": "sales", "channel": "phone", "case_number": "c" * 65}),
        _bad("data", {"queue_id": "sales", "channel": "phone", "data": ["x"]}),
        _bad("agent_id", {"queue_id": "sales", "channel": "phone", "agent_id": "agent1"}),
    ],
    "/api/v1/interactions/c1/end": [_bad("reason", {"reason": "r" * 201}), _bad("reason", {"reason": None})],
}


@pytest.fixture(scope="module")
def busy(h: Harness) -> tuple[str, dict[str, str], dict[str, str]]:
    """A tenant whose agent1 is connected to call c1."""
    t = new_tenant(h)
    agent, pbx = h.sign_in(t, "agent1"), h.api_key(t)
    _available(h, agent)
    _call(h, pbx, id="c1")
    assert h.client.post("/api/v1/me/offers/c1/accept", headers=agent).status_code == 200
    return t, agent, pbx


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [pytest.param(path, *case.values, id=f"{path}-{case.id}") for path, cases in ME_BAD.items() for case in cases],
)
def test_a_bad_field_is_named_and_changes_nothing(
    h: Harness, busy: tuple[str, dict[str, str], dict[str, str]], path: str, body: dict[str, Any], field: str
) -> None:
    t, agent, pbx = busy
    headers = pbx if path.startswith("/api/v1/interactions") else agent
    method = "put" if path.endswith("/status") else "post"
    before = tenant_state(h, t)
    response = h.client.request(method, path, json=body, headers=headers)
    assert response.status_code in (409, 422), response.text
    error_of(response, response.status_code, field)
    assert tenant_state(h, t) == before


@pytest.mark.parametrize("path", [p for p in ME_BAD if p != "/api/v1/interactions"] + ["/api/v1/interactions"])
def test_a_malformed_body_is_refused_and_changes_nothing(
    h: Harness, busy: tuple[str, dict[str, str], dict[str, str]], path: str
) -> None:
    t, agent, pbx = busy
    headers = {**(pbx if path.startswith("/api/v1/interactions") else agent), "Content-Type": "application/json"}
    method = "put" if path.endswith("/status") else "post"
    before = tenant_state(h, t)
    for content in (b'{"reason": ', b"[]", b"null", b"\xff"):
        response = h.client.request(method, path, content=content, headers=headers)
        assert response.status_code in (400, 422), content  # 400: not even text
        error_of(response, response.status_code, "body")
    assert tenant_state(h, t) == before


def test_integrations_create_read_end(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    pbx = h.api_key(t)
    body = {
        "id": "ivr-1",
        "queue_id": "support",
        "channel": "chat",
        "from_address": "jo@example.com",
        "case_number": "00001234",
        "data": {"language": "fr"},
        "priority": 7,
    }
    made = _call(h, pbx, **body)
    assert {k: made[k] for k in body} == body
    assert (made["state"], made["direction"]) == ("queued", "inbound")
    generated = _call(h, pbx)
    assert generated["id"]
    assert c.get("/api/v1/interactions/ivr-1", headers=pbx).json() == made
    ended = c.post("/api/v1/interactions/ivr-1/end", json={"reason": "caller left"}, headers=pbx)
    assert ended.status_code == 200, ended.text
    assert ended.json()["state"] == "abandoned"
    assert c.get("/api/v1/interactions/ivr-1", headers=pbx).json()["state"] == "abandoned"
    before = tenant_state(h, t)
    error_of(c.post("/api/v1/interactions/ivr-1/end", json={}, headers=pbx), 409)
    # an ended interaction's id cannot be reused: that would overwrite its record
    error_of(c.post("/api/v1/interactions", json={**body, "id": "ivr-1"}, headers=pbx), 409, "id")
    error_of(c.get("/api/v1/interactions/nope", headers=pbx), 404)
    error_of(c.post("/api/v1/interactions/nope/end", json={}, headers=pbx), 404)
    assert tenant_state(h, t) == before
    assert c.get("/api/v1/interactions/ivr-1", headers=pbx).json()["state"] == "abandoned"


def test_tickets_and_the_websocket(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    agent = h.sign_in(t, "agent1")
    for headers, query in ((agent, ""), (h.api_key(t), ""), (h.admin, f"?tenant_id={t}")):
        issued = c.post(f"/api/v1/realtime/tickets{query}", headers=headers)
        assert issued.status_code == 201, issued.text
        ticket = issued.json()
        assert ticket["expires_in"] > 0
        assert ticket["url"] == f"/api/v1/realtime?ticket={ticket['ticket']}"
        with c.websocket_connect(ticket["url"]) as ws:
            init = ws.receive_json()
            assert (init["type"], init["snapshot"]["tenant_id"]) == ("init", t)
            ws.send_json({"id": 7, "type": "ping"})
            assert ws.receive_json() == {"id": 7, "type": "result", "result": {"pong": True}}
    error_of(c.post("/api/v1/realtime/tickets", headers=h.admin), 422)  # which tenant?


def test_operations(h: Harness) -> None:
    c = h.client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    metrics = c.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "callbridge_commands_total" in metrics.text


def test_every_operation_is_tested() -> None:
    """A new route must get tests here or in test_api_admin.py (good and bad input, errors)."""
    from callbridge.web.app import create_app

    tested = {
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
        ("POST", "/api/v1/auth/admin-sessions"),
        ("GET", "/api/v1/tenants"), ("POST", "/api/v1/tenants"),
        ("GET", "/api/v1/tenants/{tenant_id}"), ("PUT", "/api/v1/tenants/{tenant_id}"),
        ("GET", "/api/v1/tenants/{tenant_id}/skills"), ("POST", "/api/v1/tenants/{tenant_id}/skills"),
        ("DELETE", "/api/v1/tenants/{tenant_id}/skills/{name}"),
        ("GET", "/api/v1/tenants/{tenant_id}/queues"), ("POST", "/api/v1/tenants/{tenant_id}/queues"),
        ("GET", "/api/v1/tenants/{tenant_id}/queues/{queue_id}"),
        ("PUT", "/api/v1/tenants/{tenant_id}/queues/{queue_id}"),
        ("DELETE", "/api/v1/tenants/{tenant_id}/queues/{queue_id}"),
        ("GET", "/api/v1/tenants/{tenant_id}/agents"), ("POST", "/api/v1/tenants/{tenant_id}/agents"),
        ("GET", "/api/v1/tenants/{tenant_id}/agents/{agent_id}"),
        ("PUT", "/api/v1/tenants/{tenant_id}/agents/{agent_id}"),
        ("DELETE", "/api/v1/tenants/{tenant_id}/agents/{agent_id}"),
        ("GET", "/api/v1/tenants/{tenant_id}/api-keys"), ("POST", "/api/v1/tenants/{tenant_id}/api-keys"),
        ("DELETE", "/api/v1/tenants/{tenant_id}/api-keys/{key_id}"),
        ("GET", "/api/v1/tenants/{tenant_id}/snapshot"),
        ("GET", "/api/v1/me"), ("PUT", "/api/v1/me/status"),
        ("POST", "/api/v1/me/offers/{interaction_id}/accept"), ("POST", "/api/v1/me/offers/{interaction_id}/reject"),
        ("POST", "/api/v1/me/interactions/{interaction_id}/end"),
        ("POST", "/api/v1/me/interactions/{interaction_id}/complete"),
        ("POST", "/api/v1/me/interactions/{interaction_id}/transfer"),
        ("POST", "/api/v1/me/calls"), ("POST", "/api/v1/me/sign-out"),
        ("POST", "/api/v1/realtime/tickets"),
        ("POST", "/api/v1/interactions"), ("POST", "/api/v1/interactions/{interaction_id}/end"),
        ("GET", "/api/v1/interactions/{interaction_id}"),
    }  # fmt: skip
    documented = {(m.upper(), p) for p, item in create_app().openapi()["paths"].items() for m in item}
    assert tested <= documented, tested - documented


def test_a_queue_that_requires_a_disposition_refuses_complete_without_one_of_its_list(h: Harness) -> None:
    t = new_tenant(h)
    c = h.client
    one = h.sign_in(t, "agent1")
    pbx = h.api_key(t)
    queue = c.get(f"/api/v1/tenants/{t}/queues/sales", headers=h.admin).json()
    change = {**queue, "dispositions": ["Sold", "Not interested"], "disposition_required": True}
    assert c.put(f"/api/v1/tenants/{t}/queues/sales", json=change, headers=h.admin).status_code == 200
    snapshot = c.get("/api/v1/me", headers=one).json()
    assert snapshot["queues"]["sales"]["dispositions"] == ["Sold", "Not interested"]  # the console's picker
    assert snapshot["queues"]["sales"]["disposition_required"] is True
    _available(h, one)
    _call(h, pbx, id="d1")
    assert c.post("/api/v1/me/offers/d1/accept", headers=one).status_code == 200
    assert c.post("/api/v1/me/interactions/d1/end", json={}, headers=one).status_code == 200
    missing = error_of(c.post("/api/v1/me/interactions/d1/complete", json={"notes": "n"}, headers=one), 422)
    assert missing["field"] == "disposition"
    assert "Choose a disposition: the Sales queue requires one." in missing["message"]
    other = error_of(c.post("/api/v1/me/interactions/d1/complete", json={"disposition": "Maybe"}, headers=one), 422)
    assert other["field"] == "disposition"
    assert "not one of the Sales queue's dispositions" in other["message"]
    assert c.get("/api/v1/interactions/d1", headers=pbx).json()["state"] == "wrap_up"
    done = c.post("/api/v1/me/interactions/d1/complete", json={"disposition": "Sold"}, headers=one)
    assert done.status_code == 204, done.text
    # the agent's own recent interactions list it, with its outcome; another agent's list does not
    recent = c.get("/api/v1/me/interactions?limit=5", headers=one).json()["interactions"]
    assert [(i["id"], i["disposition"], i["channel"]) for i in recent] == [("d1", "Sold", "phone")]
    assert recent[0]["completed_at"] is not None
    assert c.get("/api/v1/me/interactions", headers=h.sign_in(t, "agent2")).json() == {"interactions": []}
    assert c.get("/api/v1/me/interactions?limit=0", headers=one).status_code == 422
