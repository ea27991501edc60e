"""Tenant isolation: tenant A's admin, supervisors, agents and API keys can neither read, list, change,
delete nor subscribe to tenant B's data.

Two tenants are set up identically (same queue, skill and agent ids, an interaction with the same id in
both), plus a few objects only B has. Every route of the OpenAPI document is checked: a route with a
tenant or object id answers 404 for B's ids (never 403, never B's data), and B's stored rows and live
state are the same afterwards. A route this file does not know fails the suite until it is classified.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from callbridge.web.app import create_app
from tests.e2e.conftest import Harness, make_harness
from tests.e2e.test_api_admin import error_of, tenant_state

T = "/api/v1/tenants"
OPENAPI = create_app().openapi()
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in OPENAPI["paths"].items()
    for method in item
    if method in ("get", "put", "post", "delete", "patch")
)


def _example(schema: dict[str, Any]) -> Any:
    """A small valid value for a JSON schema of the OpenAPI document (so that a body passes validation
    and the route has to look the ids up)."""
    if "$ref" in schema:
        return _example(OPENAPI["components"]["schemas"][schema["$ref"].split("/")[-1]])
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            options = [o for o in schema[combined] if o.get("type") != "null"]
            return _example(options[0])
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example(properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [_example(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


def _body(method: str, path: str) -> Any:
    if method not in ("POST", "PUT", "PATCH"):
        return None
    if (method, path) in BODIES:
        return BODIES[(method, path)]
    request = OPENAPI["paths"][path][method.lower()].get("requestBody")
    if request is None:
        return None
    return _example(request["content"]["application/json"]["schema"])


# Routes with no tenant data behind them, or that a customer's browser calls without credentials.
NOT_TENANT_DATA = {
    ("GET", "/healthz"): "process liveness",
    ("GET", "/readyz"): "database readiness",
    ("GET", "/metrics"): "process-wide counters, no tenant labels",
    ("POST", "/api/v1/auth/admin-sessions"): "local admin sign-in",
}
# Routes that answer an id unknown in the caller's tenant with an empty result rather than 404
# (checked: B's id gets the same answer as an id nobody uses).
READS_UNKNOWN_AS_EMPTY = {
    ("GET", f"{T}/{{tenant_id}}/reports/agents/{{agent_id}}/timeline"): "history of any agent id, deleted ones too",
}
# Upserts: in A's own tenant, B's id is just a new id for A, so the answer must be exactly a never-used id's.
UPSERTS = {
    ("PUT", f"{T}/{{tenant_id}}/voice/numbers/{{number}}"): "maps one of A's own dialled numbers",
    ("PUT", f"{T}/{{tenant_id}}/voice/desk-phones/{{agent_id}}"): "sets the desk phone of one of A's agents",
}
PUBLIC_PREFIXES = ("/chat/v1/{tenant_id}/",)  # the customer chat widget: public by design


@dataclass
class World:
    h: Harness
    principals: dict[str, dict[str, str]]  # A's: admin, supervisor, agent, key
    b_key_id: str
    b_key: dict[str, str]
    b_agent: dict[str, str]


def _tenant(h: Harness, t: str) -> tuple[dict[str, Any], dict[str, str]]:
    c, a = h.client, h.admin
    h.setup_tenant(t, agents=3, offer_timeout=600)
    # both tenants have a queue "support"; its name says whose a summary of it is
    support = c.get(f"{T}/{t}/queues/support", headers=a).json()
    support = {k: v for k, v in support.items() if k != "id"} | {"name": support_name(t)}
    assert c.put(f"{T}/{t}/queues/support", json=support, headers=a).status_code == 200
    assert c.post(f"{T}/{t}/skills", json={"name": f"{t}-only"}, headers=a).status_code == 201
    only_queue = {"id": f"{t}-queue", "name": "Only", "channel": "phone"}
    assert c.post(f"{T}/{t}/queues", json=only_queue, headers=a).status_code == 201
    for agent_id, roles in ((f"{t}-agent", ["agent"]), ("boss", ["admin"]), ("sup", ["supervisor"])):
        body = {"id": agent_id, "email": f"{agent_id}@{t}.example", "display_name": agent_id, "roles": roles}
        assert c.post(f"{T}/{t}/agents", json=body, headers=a).status_code == 201, agent_id
    key = c.post(f"{T}/{t}/api-keys", json={"name": "pbx"}, headers=a).json()
    pbx = {"Authorization": f"Bearer {key['secret']}"}
    agent1, agent2 = h.sign_in(t, "agent1"), h.sign_in(t, "agent2")
    h.sign_in(t, "agent3")  # signed in, on break: A signs its agent3 out, B's must stay
    available = {"status": "available"}
    # agent2 talks on a call, agent1 is offered one; both tenants have an interaction "same-id"
    assert c.put("/api/v1/me/status", json=available, headers=agent2).status_code == 200
    talk = {"id": f"{t}-talk", "queue_id": "sales", "channel": "phone"}
    assert c.post("/api/v1/interactions", json=talk, headers=pbx).json()["agent_id"] == "agent2"
    assert c.post(f"/api/v1/me/offers/{t}-talk/accept", headers=agent2).status_code == 200
    assert c.put("/api/v1/me/status", json=available, headers=agent1).status_code == 200
    call = {"id": f"{t}-call", "queue_id": "sales", "channel": "phone"}
    assert c.post("/api/v1/interactions", json=call, headers=pbx).json()["agent_id"] == "agent1"
    same = {"id": "same-id", "queue_id": "messages", "channel": "voicemail", "data": {"tenant": t}}
    assert c.post("/api/v1/interactions", json=same, headers=pbx).status_code == 201
    principals = {
        "admin": h.sign_in(t, "boss"),
        "supervisor": h.sign_in(t, "sup"),
        "agent": agent1,
        "key": pbx,
    }
    return key, {**principals, "agent2": agent2}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for h in make_harness(tmp_path_factory.mktemp("isolation"), heartbeat_timeout_seconds=3600):
        _a_key, a = _tenant(h, "a")
        b_key, b = _tenant(h, "b")
        yield World(h, a, b_key["id"], b["key"], b["agent"])


# B's ids for each path parameter; object ids that exist only in B where there is a choice
B_IDS = {
    "tenant_id": "b",
    "name": "b-only",
    "queue_id": "b-queue",
    "agent_id": "b-agent",
    "interaction_id": "b-call",
    "crm": "builtin",
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", f"{T}/{{tenant_id}}"): {"name": "Taken over"},
    ("POST", f"{T}/{{tenant_id}}/skills"): {"name": "taken"},
    ("POST", f"{T}/{{tenant_id}}/queues"): {"id": "taken", "name": "Taken", "channel": "phone"},
    ("PUT", f"{T}/{{tenant_id}}/queues/{{queue_id}}"): {"name": "Taken", "channel": "phone"},
    ("POST", f"{T}/{{tenant_id}}/agents"): {"id": "taken", "email": "t@a.example", "display_name": "T"},
    ("PUT", f"{T}/{{tenant_id}}/agents/{{agent_id}}"): {"email": "t@a.example", "display_name": "T"},
    ("POST", f"{T}/{{tenant_id}}/api-keys"): {"name": "taken"},
    ("POST", "/api/v1/me/interactions/{interaction_id}/end"): {"reason": "taken"},
    ("POST", "/api/v1/me/interactions/{interaction_id}/complete"): {"disposition": "taken"},
    ("POST", "/api/v1/me/interactions/{interaction_id}/transfer"): {"queue_id": "sales"},
    ("POST", "/api/v1/interactions/{interaction_id}/end"): {"reason": "taken"},
    # a multipart upload in truth: the tenant is refused before the body is read, whatever it is
    ("PUT", f"{T}/{{tenant_id}}/voice/hold-music"): {},
}
# Routes whose ids come from the credential: checked by dedicated tests below.
CREDENTIAL_SCOPED = {
    ("GET", "/api/v1/tenants"): "test_lists_hold_only_the_callers_tenant",
    ("POST", "/api/v1/tenants"): "test_creating_tenants_is_for_callbridge_admins",
    ("GET", "/api/v1/me"): "test_lists_hold_only_the_callers_tenant",
    ("PUT", "/api/v1/me/status"): "test_credential_scoped_changes_stay_in_the_callers_tenant",
    ("POST", "/api/v1/me/calls"): "test_credential_scoped_changes_stay_in_the_callers_tenant",
    ("POST", "/api/v1/me/sign-out"): "test_credential_scoped_changes_stay_in_the_callers_tenant",
    ("POST", "/api/v1/interactions"): "test_credential_scoped_changes_stay_in_the_callers_tenant",
    ("POST", "/api/v1/realtime/tickets"): "test_a_websocket_of_a_sees_nothing_of_b",
    ("GET", "/api/v1/me/interactions"): "test_an_agents_recent_interactions_are_their_own",
    ("GET", "/api/v1/me/console-texts"): "test_an_agent_reads_only_their_own_tenants_console_texts",
    ("GET", "/api/v1/me/softphone"): (
        "tests/voice/test_softphone_refusals.py::test_only_unexpired_credentials_for_the_agents_own_user_register"
    ),
    ("POST", "/api/v1/telephony/events"): "test_credential_scoped_changes_stay_in_the_callers_tenant",
    ("POST", "/api/v1/voicemails"): "test_credential_scoped_changes_stay_in_the_callers_tenant",
    ("GET", "/api/v1/me/greetings"): "tests/console/test_greetings_api.py::test_an_agent_sees_only_their_own_messages",
    ("POST", "/api/v1/me/greetings"): "tests/console/test_greetings_api.py::test_an_agent_sees_only_their_own_messages",
}


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), f"b-{m.group(1)}"), path)


def _who_may_call(path: str) -> list[str]:
    if path.startswith("/api/v1/me"):
        return ["agent"]
    if path.startswith(f"{T}/"):
        return ["admin", "supervisor", "agent", "key"]
    return ["key"]


def _b_state(w: World) -> dict[str, Any]:
    state = tenant_state(w.h, "b")
    state["b-call"] = w.h.client.get("/api/v1/interactions/b-call", headers=w.b_key).json()
    return state


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_a_cannot_reach_b_through_any_route(world: World, method: str, path: str) -> None:
    if (method, path) in NOT_TENANT_DATA or path.startswith(PUBLIC_PREFIXES):
        return
    if (method, path) in CREDENTIAL_SCOPED:
        return  # see the test named in CREDENTIAL_SCOPED
    if "{" not in path:
        pytest.fail(
            f"{method} {path} is not covered by the tenant isolation suite: add it to CREDENTIAL_SCOPED "
            "with a test proving it cannot touch another tenant, or to NOT_TENANT_DATA"
        )
    c = world.h.client
    before = _b_state(world)
    checked = 0
    for who in _who_may_call(path):
        headers = world.principals[who]
        variants = [_fill(path, B_IDS)]
        if "{tenant_id}" in path and path.count("{") > 1 and who == "admin":
            variants.append(_fill(path, {**B_IDS, "tenant_id": "a"}))  # A's own tenant, B's object id
        if "{interaction_id}" in path:
            variants.append(_fill(path, {**B_IDS, "interaction_id": "b-talk"}))
        for url in variants:
            if "{key_id}" in path:
                url = url.replace("b-key_id", world.b_key_id)
            response = c.request(method, url, json=_body(method, path), headers=headers)
            if (method, path) in READS_UNKNOWN_AS_EMPTY or ((method, path) in UPSERTS and url.startswith(f"{T}/a/")):
                # no 404, but the answer must be exactly what a never-used id gets: nothing of B's
                unused = c.request(
                    method,
                    re.sub(r"/b-(call|talk|agent|number)", "/never-used", url),
                    json=_body(method, path),
                    headers=headers,
                )
                assert unused.status_code == response.status_code
                assert response.text.replace(url.split("/")[-1 if "timeline" not in url else -2], "") == (
                    unused.text.replace("never-used", "")
                ), f"{who}: {method} {url}"
                checked += 1
                continue
            assert response.status_code == 404, f"{who}: {method} {url} -> {response.status_code} {response.text}"
            error_of(response, 404)
            assert "same-id" not in response.text
            checked += 1
    assert checked
    assert _b_state(world) == before


def test_every_tenant_scoped_route_is_classified() -> None:
    """Nothing falls through: a route either has ids (checked above with B's) or is listed by name."""
    for method, path in OPERATIONS:
        assert (
            (method, path) in NOT_TENANT_DATA
            or (method, path) in CREDENTIAL_SCOPED
            or path.startswith(PUBLIC_PREFIXES)
            or "{" in path
        ), f"{method} {path}"


def test_lists_hold_only_the_callers_tenant(world: World) -> None:
    c, p = world.h.client, world.principals
    assert [t["id"] for t in c.get(T, headers=p["admin"]).json()] == ["a"]
    for who in ("supervisor", "agent", "key"):
        error_of(c.get(T, headers=p[who]), 403)
    lists = {
        "skills": "name",
        "queues": "id",
        "agents": "id",
        "api-keys": "id",
    }
    for kind, key in lists.items():
        found = c.get(f"{T}/a/{kind}", headers=p["admin"])
        assert found.status_code == 200, found.text
        ids = {item[key] for item in found.json()}
        assert not {"b-only", "b-queue", "b-agent", world.b_key_id} & ids, kind
        assert "a-only" in ids or "a-queue" in ids or "a-agent" in ids or kind == "api-keys"
    for who in ("admin", "supervisor"):
        snapshot = c.get(f"{T}/a/snapshot", headers=p[who]).json()
        assert snapshot["tenant_id"] == "a"
        assert "b-queue" not in snapshot["queues"]
        assert "b-agent" not in snapshot["agents"]
        assert not {"b-call", "b-talk"} & set(snapshot["interactions"])
    me = c.get("/api/v1/me", headers=p["agent"]).json()
    assert me["tenant_id"] == "a"
    assert "b-agent" not in me["agents"]
    assert not {"b-call", "b-talk"} & set(me["interactions"])
    # an interaction id both tenants use: each key reads its own
    assert c.get("/api/v1/interactions/same-id", headers=p["key"]).json()["data"] == {"tenant": "a"}
    assert c.get("/api/v1/interactions/same-id", headers=world.b_key).json()["data"] == {"tenant": "b"}


def test_creating_tenants_is_for_callbridge_admins(world: World) -> None:
    c, p = world.h.client, world.principals
    before = _b_state(world)
    for who in ("admin", "supervisor", "agent", "key"):
        for body in ({"id": "b", "name": "B again"}, {"id": "c", "name": "C"}):
            assert c.post(T, json=body, headers=p[who]).status_code == 403
    assert _b_state(world) == before
    assert [t["id"] for t in c.get(T, headers=world.h.admin).json()] == ["a", "b"]


def test_credential_scoped_changes_stay_in_the_callers_tenant(world: World) -> None:
    """Routes without ids act on the caller's tenant only, even when B has the same ids (or B-only ones)."""
    c, p = world.h.client, world.principals
    before = _b_state(world)
    assert c.put("/api/v1/me/status", json={"status": "break", "reason": "lunch"}, headers=p["agent"]).status_code
    assert c.put("/api/v1/me/status", json={"status": "available"}, headers=p["agent"]).status_code == 200
    # B's queue is unknown in A: refused, and nothing happens in B
    refused = c.post("/api/v1/me/calls", json={"to_address": "+14155550100", "queue_id": "b-queue"}, headers=p["agent"])
    error_of(refused, 422, "queue_id")
    refused = c.post("/api/v1/interactions", json={"queue_id": "b-queue", "channel": "phone"}, headers=p["key"])
    error_of(refused, 422, "queue_id")
    # an id both tenants use names the caller's own interaction
    ended = c.post("/api/v1/interactions/same-id/end", json={"reason": "a hangs up"}, headers=p["key"])
    assert ended.status_code == 200, ended.text
    assert (ended.json()["state"], ended.json()["data"]) == ("abandoned", {"tenant": "a"})
    # A's agent3 signs out; B's agent3 (same id) stays signed in
    a3 = world.h.sign_in("a", "agent3")
    assert c.post("/api/v1/me/sign-out", headers=a3).status_code == 204
    for path in ("/api/v1/telephony/events", "/api/v1/voicemails"):
        for body in ({}, {"tenant_id": "b", "queue_id": "sales", "interaction_id": "b-call"}):
            assert c.post(path, json=body, headers=p["key"]).status_code != 500
    assert _b_state(world) == before
    for who in ("admin", "supervisor", "agent", "key"):
        response = c.post("/api/v1/realtime/tickets?tenant_id=b", headers=p[who])
        error_of(response, 404)


def test_an_agents_recent_interactions_are_their_own(world: World) -> None:
    """A B agent completes a chat; the A agent with the same id never sees it in their recent list."""
    c = world.h.client
    chat = {"id": "b-recent", "queue_id": "support", "channel": "chat"}
    made = c.post("/api/v1/interactions", json=chat, headers=world.b_key)
    assert made.status_code == 201, made.text
    agent_id = made.json()["agent_id"]
    assert agent_id, "an available B agent was offered the chat"
    in_b, in_a = world.h.sign_in("b", agent_id), world.h.sign_in("a", agent_id)
    assert c.post("/api/v1/me/offers/b-recent/accept", headers=in_b).status_code == 200
    assert c.post("/api/v1/interactions/b-recent/end", json={}, headers=world.b_key).status_code == 200
    assert c.post("/api/v1/me/interactions/b-recent/complete", json={}, headers=in_b).status_code == 204
    assert "b-recent" in [i["id"] for i in c.get("/api/v1/me/interactions", headers=in_b).json()["interactions"]]
    for who in (in_a, world.principals["agent"], world.principals["agent2"]):
        mine = c.get("/api/v1/me/interactions", headers=who)
        assert mine.status_code == 200
        assert not [i for i in mine.json()["interactions"] if i["id"].startswith("b-")]


def test_an_agent_reads_only_their_own_tenants_console_texts(world: World) -> None:
    c = world.h.client
    b_texts = {"notes_templates": ["b-only template"], "quick_replies": ["b-only reply"]}
    assert c.put(f"{T}/b/console-texts", json=b_texts, headers=world.h.admin).status_code == 200
    assert c.get("/api/v1/me/console-texts", headers=world.b_agent).json() == b_texts
    for who in ("agent", "agent2"):
        mine = c.get("/api/v1/me/console-texts", headers=world.principals[who])
        assert mine.status_code == 200
        assert "b-only" not in mine.text


def _events_until(ws: Any, marker: str) -> list[dict[str, Any]]:
    """Frames received before the first event that mentions `marker` (which must arrive)."""
    seen = []
    for _ in range(200):
        frame = ws.receive_json()
        if marker in json.dumps(frame):
            return seen
        seen.append(frame)
    raise AssertionError(f"{marker!r} never arrived")


def test_a_websocket_of_a_sees_nothing_of_b(world: World) -> None:
    c, p, h = world.h.client, world.principals, world.h

    def ticket(headers: dict[str, str], query: str = "") -> str:
        response = c.post(f"/api/v1/realtime/tickets{query}", headers=headers)
        assert response.status_code == 201, response.text
        url: str = response.json()["url"]
        return url

    urls = {who: ticket(p[who]) for who in ("admin", "supervisor", "agent", "key")}
    urls["local-admin"] = ticket(h.admin, "?tenant_id=a")
    b_watch = ticket(h.admin, "?tenant_id=b")
    with (
        c.websocket_connect(urls["admin"]) as a_admin,
        c.websocket_connect(urls["supervisor"]) as a_sup,
        c.websocket_connect(urls["agent"]) as a_agent,
        c.websocket_connect(urls["key"]) as a_key,
        c.websocket_connect(urls["local-admin"]) as a_root,
        c.websocket_connect(b_watch) as b_root,
    ):
        a_sockets = {"admin": a_admin, "supervisor": a_sup, "agent": a_agent, "key": a_key, "local-admin": a_root}
        for who, ws in a_sockets.items():
            init = ws.receive_json()
            assert init["type"] == "init"
            snapshot = init["snapshot"]
            assert snapshot["tenant_id"] == "a", who
            assert "b-agent" not in snapshot["agents"], who
            assert not {"b-queue"} & set(snapshot["queues"]), who
            assert not {"b-call", "b-talk"} & set(snapshot["interactions"]), who
        assert b_root.receive_json()["snapshot"]["tenant_id"] == "b"
        b_traffic_began = time.time()
        # traffic in B, with ids A also uses: agent1, agent2, sales
        b_agent3 = h.sign_in("b", "agent3")
        assert c.put("/api/v1/me/status", json={"status": "available"}, headers=b_agent3).status_code == 200
        made = c.post(
            "/api/v1/interactions", json={"id": "b-new", "queue_id": "support", "channel": "chat"}, headers=world.b_key
        )
        assert made.status_code == 201, made.text
        assert c.post("/api/v1/interactions/b-new/end", json={}, headers=world.b_key).status_code == 200
        b_break = {"status": "break", "reason": "b-marker"}
        assert c.put("/api/v1/me/status", json=b_break, headers=b_agent3).status_code == 200
        assert "b-new" in json.dumps(_events_until(b_root, "b-marker"))  # the traffic made events, in B
        # then a marker in A, which every A socket receives: nothing of B may come before it
        marker = "a-marker"
        sup = p["supervisor"]
        assert c.put("/api/v1/me/status", json={"status": "break", "reason": marker}, headers=sup).status_code == 200
        b_only = re.compile(r"b-(new|call|talk|agent|queue|only|marker)")
        for who, ws in a_sockets.items():
            # A had no traffic of its own in the meantime: nothing but A's periodic summaries may come first
            frames = _events_until(ws, marker)
            assert not b_only.search(json.dumps(frames)), f"{who} received events of tenant B: {frames}"
            before_marker = [f for f in frames if not _a_summary_from_before(f["event"], b_traffic_began)]
            assert before_marker == [], f"{who} received events of tenant B: {before_marker}"
        assert c.put("/api/v1/me/status", json={"status": "available"}, headers=sup).status_code == 200


def _a_summary_from_before(event: dict[str, Any], b_traffic_began: float) -> bool:
    """A's periodic summaries may still carry A's own changes from before B's traffic (digests of colleagues'
    presence and of queues go out every summary interval, and a new subscriber gets the changed ones again):
    such a frame names only agents that changed before then, or queues B's traffic did not touch."""
    if event["type"].startswith("wallboard."):
        return True
    if event["type"] == "queue.changed":
        return event["queue"]["id"] not in B_TRAFFIC_QUEUES or event["queue"]["name"] == support_name("a")
    return event["type"] == "agents.changed" and all(agent["since"] < b_traffic_began for agent in event["agents"])


B_TRAFFIC_QUEUES = {"support"}  # the queue of the chat B's traffic creates in the test above


def support_name(tenant_id: str) -> str:
    return f"Support of {tenant_id}"


TENANT_ROUTES = [(m, p) for m, p in OPERATIONS if p.startswith(f"{T}/{{tenant_id}}")]


@pytest.mark.parametrize(("method", "path"), TENANT_ROUTES, ids=[f"{m} {p}" for m, p in TENANT_ROUTES])
def test_a_callbridge_admin_naming_a_tenant_that_does_not_exist_gets_404(world: World, method: str, path: str) -> None:
    """Callbridge administrators may act on any tenant, so the tenant itself must be checked: a route that
    wrote settings for a missing tenant used to fail on the database's foreign key (500)."""
    url = _fill(path, {**B_IDS, "tenant_id": "no-such-tenant"}).replace("b-key_id", "no-such-key")
    response = world.h.client.request(method, url, json=_body(method, path), headers=world.h.admin)
    assert response.status_code == 404, f"{method} {url} -> {response.status_code} {response.text}"
    assert "no-such-tenant" in error_of(response, 404)["message"]
