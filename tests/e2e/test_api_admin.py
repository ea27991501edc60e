"""The admin API: tenants, skills, queues, agents, API keys, admin sign-in, the supervisors' snapshot.

Every refused request must answer `{"error", "message", "field"}` naming the bad field, and change nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from callbridge.store.tables import metadata
from tests.e2e.conftest import Harness, make_harness

T = "/api/v1/tenants"


def error_of(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "field"}, body
    assert body["message"]
    if field is not None:
        assert body["field"] == field, body
        assert field.split(".")[0] in body["message"], body
    return body


def tenant_state(h: Harness, tenant_id: str) -> dict[str, Any]:
    """The tenant's stored rows (to prove that a refused request changed nothing), and its live state."""
    rows: dict[str, Any] = {}
    with h.services.engine.connect() as connection:
        for table in metadata.sorted_tables:
            query = select(table)
            if "tenant_id" in table.c:
                query = query.where(table.c.tenant_id == tenant_id)
            elif table.name == "tenants":
                query = query.where(table.c.id == tenant_id)
            rows[table.name] = sorted(map(repr, connection.execute(query)))
    live = h.client.get(f"{T}/{tenant_id}/snapshot", headers=h.admin).json()
    del live["at"]
    for agent in live["agents"].values():
        del agent["seconds_in_status"]
    for queue in live["queues"].values():
        del queue["longest_wait_seconds"]
    rows["live"] = live
    return rows


_tenants = itertools.count(1)


def new_tenant(h: Harness, agents: int = 2) -> str:
    """A tenant of its own for one test (tenants are isolated: tests sharing the app cannot disturb each other)."""
    tenant_id = f"t{next(_tenants)}"
    h.setup_tenant(tenant_id, agents=agents, offer_timeout=600)
    return tenant_id


# ----------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One tenant, set up once: the bad-input cases below only read it (and prove they changed nothing)."""
    for h in make_harness(tmp_path_factory.mktemp("admin"), heartbeat_timeout_seconds=3600):
        h.setup_tenant("acme", offer_timeout=600)
        h.api_key("acme")
        yield h


GOOD_TENANT = {"id": "globex", "name": "Globex", "time_zone": "Europe/Paris", "phone_region": "FR"}
GOOD_QUEUE = {"id": "vip", "name": "VIP", "channel": "phone", "required_skills": {"billing": 2}}
GOOD_AGENT = {
    "id": "agent9",
    "email": "agent9@acme.example",
    "display_name": "Agent 9",
    "roles": ["agent"],
    "skills": {"billing": 1},
    "capacity": {"phone": 1, "chat": 2},
    "queue_ids": ["sales"],
}

TENANT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("id-pattern", {"id": "bad id!"}, "id"),
    ("id-too-long", {"id": "x" * 65}, "id"),
    ("id-type", {"id": 12}, "id"),
    ("name-empty", {"name": ""}, "name"),
    ("name-too-long", {"name": "n" * 201}, "name"),
    ("time-zone", {"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ("time-zone-type", {"time_zone": 3}, "time_zone"),
    ("phone-region", {"phone_region": "XX"}, "phone_region"),
    ("origin-path", {"allowed_origins": ["https://crm.example/path"]}, "allowed_origins.0"),
    ("origin-scheme", {"allowed_origins": ["ftp://crm.example"]}, "allowed_origins.0"),
    ("origins-type", {"allowed_origins": "https://crm.example"}, "allowed_origins"),
    ("extra", {"colour": "red"}, "colour"),
]
QUEUE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("id-pattern", {"id": "-vip"}, "id"),
    ("name-empty", {"name": ""}, "name"),
    ("channel", {"channel": "fax"}, "channel"),
    ("skill-pattern", {"required_skills": {"Billing": 1}}, "required_skills.Billing.[key]"),
    ("skill-level", {"required_skills": {"billing": 11}}, "required_skills.billing"),
    ("unknown-skill", {"required_skills": {"french": 1}}, "required_skills"),
    ("priority-range", {"priority": 101}, "priority"),
    ("priority-type", {"priority": "high"}, "priority"),
    ("service-level", {"service_level_seconds": 0}, "service_level_seconds"),
    ("offer-timeout", {"offer_timeout_seconds": 4}, "offer_timeout_seconds"),
    ("wrap-up", {"wrap_up_seconds": -1}, "wrap_up_seconds"),
    ("extra", {"colour": "red"}, "colour"),
]
AGENT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("id-pattern", {"id": "agent 9"}, "id"),
    ("email", {"email": "not-an-email"}, "email"),
    ("email-type", {"email": ["a@b.c"]}, "email"),
    ("display-name", {"display_name": ""}, "display_name"),
    ("role", {"roles": ["boss"]}, "roles.0"),
    ("no-roles", {"roles": []}, "roles"),
    ("skill-level", {"skills": {"billing": -1}}, "skills.billing"),
    ("unknown-skill", {"skills": {"french": 1}}, "skills"),
    ("phone-capacity", {"capacity": {"phone": 2}}, "capacity"),
    ("capacity-channel", {"capacity": {"fax": 1}}, "capacity.fax.[key]"),
    ("capacity-range", {"capacity": {"chat": 51}}, "capacity.chat"),
    ("unknown-queue", {"queue_ids": ["nowhere"]}, "queue_ids"),
    ("queue-pattern", {"queue_ids": ["no where"]}, "queue_ids.0"),
    ("enabled-type", {"enabled": "maybe"}, "enabled"),
    ("extra", {"password": "x"}, "password"),
]


def _cases(
    route: str, method: str, path: str, good: dict[str, Any], cases: list[tuple[str, dict[str, Any], str]]
) -> Any:
    return [
        pytest.param(method, path, {**good, **change}, field, id=f"{route}-{name}") for name, change, field in cases
    ]


BAD_BODIES = [
    *_cases("create-tenant", "post", T, GOOD_TENANT, TENANT_CASES),
    *_cases("update-tenant", "put", f"{T}/acme", GOOD_TENANT, TENANT_CASES[3:]),
    pytest.param("put", f"{T}/acme", {**GOOD_TENANT, "id": "other"}, "id", id="update-tenant-id-changes"),
    pytest.param("post", f"{T}/acme/skills", {"name": "Billing Dept"}, "name", id="skill-pattern"),
    pytest.param("post", f"{T}/acme/skills", {"name": "x", "description": "d" * 501}, "description", id="skill-desc"),
    pytest.param("post", f"{T}/acme/skills", {"name": "x", "level": 1}, "level", id="skill-extra"),
    pytest.param("post", f"{T}/acme/skills", {}, "name", id="skill-missing-name"),
    *_cases("create-queue", "post", f"{T}/acme/queues", GOOD_QUEUE, QUEUE_CASES),
    *_cases("update-queue", "put", f"{T}/acme/queues/sales", {**GOOD_QUEUE, "id": "sales"}, QUEUE_CASES[1:]),
    pytest.param("put", f"{T}/acme/queues/sales", {**GOOD_QUEUE, "id": "vip"}, "id", id="update-queue-id-changes"),
    *_cases("create-agent", "post", f"{T}/acme/agents", GOOD_AGENT, AGENT_CASES),
    *_cases("update-agent", "put", f"{T}/acme/agents/agent1", {**GOOD_AGENT, "id": "agent1"}, AGENT_CASES[1:]),
    pytest.param("put", f"{T}/acme/agents/agent1", {**GOOD_AGENT, "id": "agent2"}, "id", id="update-agent-id-changes"),
    pytest.param("post", f"{T}/acme/api-keys", {"name": ""}, "name", id="key-name-empty"),
    pytest.param("post", f"{T}/acme/api-keys", {"name": "k" * 201}, "name", id="key-name-long"),
    pytest.param("post", f"{T}/acme/api-keys", {"name": 5}, "name", id="key-name-type"),
    pytest.param("post", f"{T}/acme/api-keys", {"name": "pbx", "secret": "mine"}, "secret", id="key-extra"),
    pytest.param("post", "/api/v1/auth/admin-sessions", {"email": "root", "password": "x"}, "email", id="login-email"),
    pytest.param("post", "/api/v1/auth/admin-sessions", {"email": "root@example.com"}, "password", id="login-none"),
    pytest.param(
        "post", "/api/v1/auth/admin-sessions", {"email": "root@example.com", "password": ""}, "password", id="login-pw"
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_BODIES)
def test_a_bad_field_is_named_and_changes_nothing(
    acme: Harness, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = tenant_state(acme, "acme")
    response = acme.client.request(method, path, json=body, headers=acme.admin)
    assert 400 <= response.status_code < 500
    error_of(response, response.status_code, field)
    assert "token" not in response.json()
    assert tenant_state(acme, "acme") == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", T),
        ("put", f"{T}/acme"),
        ("post", f"{T}/acme/skills"),
        ("post", f"{T}/acme/queues"),
        ("put", f"{T}/acme/queues/sales"),
        ("post", f"{T}/acme/agents"),
        ("put", f"{T}/acme/agents/agent1"),
        ("post", f"{T}/acme/api-keys"),
        ("post", "/api/v1/auth/admin-sessions"),
    ],
)
def test_a_malformed_body_is_refused_and_changes_nothing(acme: Harness, method: str, path: str) -> None:
    before = tenant_state(acme, "acme")
    headers = {**acme.admin, "Content-Type": "application/json"}
    for content in (b'{"id": "x", ', b"", b"[1, 2]", b"null", b'"text"', b"\xff\xfe", b"\xff"):
        response = acme.client.request(method, path, content=content, headers=headers)
        assert response.status_code in (400, 422), content  # 400: not even text
        error_of(response, response.status_code, "body")
    assert tenant_state(acme, "acme") == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", T, {"id": "acme", "name": "Again"}, "id"),
        ("post", f"{T}/acme/skills", {"name": "billing"}, "name"),
        ("post", f"{T}/acme/queues", {"id": "sales", "name": "Again", "channel": "phone"}, "id"),
        ("post", f"{T}/acme/agents", {"id": "agent1", "email": "x@acme.example", "display_name": "Again"}, "id"),
    ],
    ids=["tenant", "skill", "queue", "agent"],
)
def test_a_duplicate_id_is_a_conflict_and_changes_nothing(
    acme: Harness, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = tenant_state(acme, "acme")
    error_of(acme.client.request(method, path, json=body, headers=acme.admin), 409, field)
    assert tenant_state(acme, "acme") == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"{T}/nope"),
        ("put", f"{T}/nope"),
        ("get", f"{T}/nope/skills"),
        ("post", f"{T}/nope/skills"),
        ("delete", f"{T}/nope/skills/billing"),
        ("delete", f"{T}/acme/skills/nope"),
        ("get", f"{T}/nope/queues"),
        ("post", f"{T}/nope/queues"),
        ("get", f"{T}/acme/queues/nope"),
        ("put", f"{T}/acme/queues/nope"),
        ("delete", f"{T}/acme/queues/nope"),
        ("get", f"{T}/nope/agents"),
        ("post", f"{T}/nope/agents"),
        ("get", f"{T}/acme/agents/nope"),
        ("put", f"{T}/acme/agents/nope"),
        ("delete", f"{T}/acme/agents/nope"),
        ("get", f"{T}/nope/api-keys"),
        ("post", f"{T}/nope/api-keys"),
        ("delete", f"{T}/acme/api-keys/nope"),
        ("delete", f"{T}/nope/api-keys/nope"),
        ("get", f"{T}/nope/snapshot"),
    ],
)
def test_an_unknown_id_is_404_and_changes_nothing(acme: Harness, method: str, path: str) -> None:
    bodies = {
        "queues": {"name": "Q", "channel": "phone"},
        "agents": {"email": "n@acme.example", "display_name": "N"},
        "skills": {"name": "french"},
        "api-keys": {"name": "k"},
        "nope": {"name": "Nope"},
    }
    kind = path.split("/")[-1] if method == "post" else path.split("/")[-2]
    body = bodies.get(kind, {"name": "X"}) if method in ("post", "put") else None
    if method == "post" and kind in ("queues", "agents"):
        body = {"id": "fresh", **body}
    before = tenant_state(acme, "acme")
    response = acme.client.request(method, path, json=body, headers=acme.admin)
    assert error_of(response, 404)["error"] == "not_found"
    assert tenant_state(acme, "acme") == before


# ---------------------------------------------------------------- credentials and roles

ADMIN_ROUTES = [
    ("post", T),
    ("get", f"{T}/acme"),
    ("put", f"{T}/acme"),
    ("get", f"{T}/acme/skills"),
    ("post", f"{T}/acme/skills"),
    ("delete", f"{T}/acme/skills/billing"),
    ("get", f"{T}/acme/queues"),
    ("post", f"{T}/acme/queues"),
    ("get", f"{T}/acme/queues/sales"),
    ("put", f"{T}/acme/queues/sales"),
    ("delete", f"{T}/acme/queues/sales"),
    ("get", f"{T}/acme/agents"),
    ("post", f"{T}/acme/agents"),
    ("get", f"{T}/acme/agents/agent1"),
    ("put", f"{T}/acme/agents/agent1"),
    ("delete", f"{T}/acme/agents/agent1"),
    ("get", f"{T}/acme/api-keys"),
    ("post", f"{T}/acme/api-keys"),
    ("delete", f"{T}/acme/api-keys/whatever"),
]


def _body_for(method: str, path: str) -> dict[str, Any] | None:
    if method not in ("post", "put"):
        return None
    if path.endswith("/queues") or "/queues/" in path:
        return {"id": "sales" if method == "put" else "new", "name": "Q", "channel": "phone"}
    if path.endswith("/agents") or "/agents/" in path:
        return {"id": "agent1" if method == "put" else "new", "email": "n@acme.example", "display_name": "N"}
    if path.endswith("/skills"):
        return {"name": "french"}
    if path.endswith("/api-keys"):
        return {"name": "k"}
    return {"id": "acme" if method == "put" else "new", "name": "New"}


@pytest.mark.parametrize(("method", "path"), [*ADMIN_ROUTES, ("get", T), ("get", f"{T}/acme/snapshot")])
def test_admin_routes_need_credentials(acme: Harness, method: str, path: str) -> None:
    before = tenant_state(acme, "acme")
    for authorization in (None, "Bearer ", "Bearer cbs_forged", "Bearer cbk_forged", "Bearer nonsense", "Basic eDp5"):
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = acme.client.request(method, path, json=_body_for(method, path), headers=headers)
        assert error_of(response, 401)["error"] == "unauthorized", authorization
    cookie = acme.client.request(
        method, path, json=_body_for(method, path), headers={"Cookie": "callbridge_session=cbs_forged"}
    )
    error_of(cookie, 401)
    assert tenant_state(acme, "acme") == before


@pytest.fixture(scope="module")
def agent_of_acme(acme: Harness) -> dict[str, str]:
    return acme.sign_in("acme", "agent2")


@pytest.fixture(scope="module")
def key_of_acme(acme: Harness) -> dict[str, str]:
    return acme.api_key("acme")


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_refuse_agents_and_api_keys(
    acme: Harness, agent_of_acme: dict[str, str], key_of_acme: dict[str, str], method: str, path: str
) -> None:
    before = tenant_state(acme, "acme")
    for headers in (agent_of_acme, key_of_acme):
        response = acme.client.request(method, path, json=_body_for(method, path), headers=headers)
        assert error_of(response, 403)["error"] == "forbidden"
    assert tenant_state(acme, "acme") == before


def test_listing_tenants_is_for_admins(
    acme: Harness, agent_of_acme: dict[str, str], key_of_acme: dict[str, str]
) -> None:
    error_of(acme.client.get(T, headers=agent_of_acme), 403)
    error_of(acme.client.get(T, headers=key_of_acme), 403)


def test_the_snapshot_is_for_supervisors(
    acme: Harness, agent_of_acme: dict[str, str], key_of_acme: dict[str, str]
) -> None:
    error_of(acme.client.get(f"{T}/acme/snapshot", headers=agent_of_acme), 403)
    error_of(acme.client.get(f"{T}/acme/snapshot", headers=key_of_acme), 403)


# ------------------------------------------------------------------ good inputs


def test_admin_sign_in(acme: Harness) -> None:
    harness = acme
    c = harness.client
    good = c.post(
        "/api/v1/auth/admin-sessions", json={"email": " ROOT@example.com ", "password": "correct horse battery"}
    )
    assert good.status_code == 201, good.text
    assert good.json()["token"].startswith("cbs_")
    assert good.json()["expires_in"] > 0
    assert c.get(T, headers={"Authorization": f"Bearer {good.json()['token']}"}).status_code == 200
    for body in (
        {"email": "root@example.com", "password": "wrong"},
        {"email": "nobody@example.com", "password": "correct horse battery"},
    ):
        error_of(c.post("/api/v1/auth/admin-sessions", json=body), 401)


def test_tenants_create_read_list_update(acme: Harness) -> None:
    harness = acme
    c, a = harness.client, harness.admin
    body = {
        "id": "globex",
        "name": "Globex",
        "time_zone": "America/New_York",
        "phone_region": "gb",
        "allowed_origins": ["https://Globex.my.Salesforce.com/"],
    }
    created = c.post(T, json=body, headers=a)
    assert created.status_code == 201, created.text
    expected = {**body, "phone_region": "GB", "allowed_origins": ["https://globex.my.salesforce.com"]}
    assert created.json() == expected
    assert c.get(f"{T}/globex", headers=a).json() == expected
    defaults = c.post(T, json={"id": "initech", "name": "Initech"}, headers=a).json()
    assert defaults == {
        "id": "initech",
        "name": "Initech",
        "time_zone": "UTC",
        "phone_region": "US",
        "allowed_origins": [],
    }
    assert {"globex", "initech"} <= {t["id"] for t in c.get(T, headers=a).json()}
    update = {"name": "Globex Corp", "time_zone": "Europe/Paris", "allowed_origins": []}
    updated = c.put(f"{T}/globex", json=update, headers=a)
    assert updated.status_code == 200, updated.text
    assert c.get(f"{T}/globex", headers=a).json() == {
        "id": "globex",
        "name": "Globex Corp",
        "time_zone": "Europe/Paris",
        "phone_region": "US",
        "allowed_origins": [],
    }
    same_id = c.put(f"{T}/globex", json={"id": "globex", "name": "G"}, headers=a)
    assert same_id.status_code == 200, same_id.text


def test_a_tenant_admin_agent_administers_only_their_tenant(acme: Harness) -> None:
    harness = acme
    t, g = new_tenant(harness), new_tenant(harness)
    c = harness.client
    boss = {"id": "boss", "email": "boss@acme.example", "display_name": "Boss", "roles": ["admin"]}
    assert c.post(f"{T}/{t}/agents", json=boss, headers=harness.admin).status_code == 201
    headers = harness.sign_in(t, "boss")
    assert [x["id"] for x in c.get(T, headers=headers).json()] == [t]
    assert c.get(f"{T}/{t}", headers=headers).status_code == 200
    assert c.post(f"{T}/{t}/skills", json={"name": "french"}, headers=headers).status_code == 201
    assert c.get(f"{T}/{t}/snapshot", headers=headers).status_code == 200
    error_of(c.post(T, json={"id": "mine", "name": "Mine"}, headers=headers), 403)
    error_of(c.get(f"{T}/{g}", headers=headers), 404)
    error_of(c.post(f"{T}/{g}/skills", json={"name": "french"}, headers=headers), 404)


def test_skills(acme: Harness) -> None:
    harness = acme
    t = new_tenant(harness)
    c, a = harness.client, harness.admin
    created = c.post(f"{T}/{t}/skills", json={"name": "french", "description": "Speaks French"}, headers=a)
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "french", "description": "Speaks French"}
    assert c.get(f"{T}/{t}/skills", headers=a).json() == [
        {"name": "billing", "description": ""},
        {"name": "french", "description": "Speaks French"},
    ]
    assert c.delete(f"{T}/{t}/skills/french", headers=a).status_code == 204
    error_of(c.delete(f"{T}/{t}/skills/french", headers=a), 404)
    # billing is required by nobody's queue but held by the agents
    before = tenant_state(harness, t)
    error_of(c.delete(f"{T}/{t}/skills/billing", headers=a), 409, "name")
    assert tenant_state(harness, t) == before


def test_queues(acme: Harness) -> None:
    harness = acme
    t = new_tenant(harness)
    c, a = harness.client, harness.admin
    body = {
        **GOOD_QUEUE,
        "priority": 5,
        "service_level_seconds": 30,
        "offer_timeout_seconds": 15,
        "wrap_up_seconds": 0,
        "offer_during_wrap_up": True,
        "dispositions": ["Sold", "Not interested"],
        "disposition_required": True,
    }
    created = c.post(f"{T}/{t}/queues", json=body, headers=a)
    assert created.status_code == 201, created.text
    assert created.json() == body
    assert c.get(f"{T}/{t}/queues/vip", headers=a).json() == body
    assert [q["id"] for q in c.get(f"{T}/{t}/queues", headers=a).json()] == ["messages", "sales", "support", "vip"]
    change = {"name": "Very important", "channel": "chat", "priority": -3}
    updated = c.put(f"{T}/{t}/queues/vip", json=change, headers=a)
    assert updated.status_code == 200, updated.text
    assert c.get(f"{T}/{t}/queues/vip", headers=a).json() == {
        "id": "vip",
        "name": "Very important",
        "channel": "chat",
        "required_skills": {},
        "priority": -3,
        "service_level_seconds": 20,
        "offer_timeout_seconds": 20,
        "wrap_up_seconds": 30,
        "offer_during_wrap_up": False,
        "dispositions": [],
        "disposition_required": False,
    }
    assert c.delete(f"{T}/{t}/queues/vip", headers=a).status_code == 204
    error_of(c.get(f"{T}/{t}/queues/vip", headers=a), 404)
    error_of(c.delete(f"{T}/{t}/queues/vip", headers=a), 404)


def test_a_queue_with_members_or_interactions_cannot_be_deleted(acme: Harness) -> None:
    harness = acme
    t = new_tenant(harness)
    c, a = harness.client, harness.admin
    before = tenant_state(harness, t)
    error_of(c.delete(f"{T}/{t}/queues/sales", headers=a), 409)
    assert tenant_state(harness, t) == before
    for n in (1, 2):
        agent = {**GOOD_AGENT, "id": f"agent{n}", "email": f"agent{n}@acme.example", "queue_ids": ["support"]}
        assert c.put(f"{T}/{t}/agents/agent{n}", json=agent, headers=a).status_code == 200
    pbx = harness.api_key(t)
    assert (
        c.post("/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx).status_code == 201
    )
    before = tenant_state(harness, t)
    error_of(c.delete(f"{T}/{t}/queues/sales", headers=a), 409)
    # nor can it change channel while it holds a phone call
    error_of(c.put(f"{T}/{t}/queues/sales", json={"name": "Sales", "channel": "chat"}, headers=a), 409)
    assert tenant_state(harness, t) == before
    assert c.delete(f"{T}/{t}/queues/messages", headers=a).status_code == 204


def test_agents(acme: Harness) -> None:
    harness = acme
    t = new_tenant(harness)
    c, a = harness.client, harness.admin
    created = c.post(f"{T}/{t}/agents", json=GOOD_AGENT, headers=a)
    assert created.status_code == 201, created.text
    out = created.json()
    assert {k: out[k] for k in GOOD_AGENT} == GOOD_AGENT
    assert out["enabled"] is True
    assert out["auto_login"] is True
    assert out["status"] == "logged_out"
    assert c.get(f"{T}/{t}/agents/agent9", headers=a).json() == out
    assert [x["id"] for x in c.get(f"{T}/{t}/agents", headers=a).json()] == ["agent1", "agent2", "agent9"]
    change = {**GOOD_AGENT, "display_name": "Nine", "roles": ["supervisor"], "auto_login": False, "queue_ids": []}
    del change["id"]
    updated = c.put(f"{T}/{t}/agents/agent9", json=change, headers=a)
    assert updated.status_code == 200, updated.text
    read = c.get(f"{T}/{t}/agents/agent9", headers=a).json()
    assert (read["display_name"], read["roles"], read["auto_login"], read["queue_ids"]) == (
        "Nine",
        ["supervisor"],
        False,
        [],
    )
    assert c.delete(f"{T}/{t}/agents/agent9", headers=a).status_code == 204
    error_of(c.get(f"{T}/{t}/agents/agent9", headers=a), 404)


def test_a_signed_in_agent_cannot_be_deleted_and_a_disabled_one_is_signed_out(acme: Harness) -> None:
    harness = acme
    t = new_tenant(harness)
    c, a = harness.client, harness.admin
    session = harness.sign_in(t, "agent1")
    before = tenant_state(harness, t)
    error_of(c.delete(f"{T}/{t}/agents/agent1", headers=a), 409)
    assert tenant_state(harness, t) == before
    disabled = {**GOOD_AGENT, "id": "agent1", "email": "agent1@acme.example", "enabled": False}
    assert c.put(f"{T}/{t}/agents/agent1", json=disabled, headers=a).status_code == 200
    assert c.get(f"{T}/{t}/agents/agent1", headers=a).json()["status"] == "logged_out"
    error_of(c.get("/api/v1/me", headers=session), 401)
    assert c.delete(f"{T}/{t}/agents/agent1", headers=a).status_code == 204


def test_api_keys_show_the_secret_once_and_stop_working_when_revoked(acme: Harness) -> None:
    harness = acme
    t = new_tenant(harness)
    c, a = harness.client, harness.admin
    created = c.post(f"{T}/{t}/api-keys", json={"name": "pbx"}, headers=a)
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) == {"id", "name", "prefix", "secret"}
    assert key["secret"].startswith("cbk_")
    assert key["secret"].startswith(key["prefix"])
    listed = c.get(f"{T}/{t}/api-keys", headers=a)
    assert listed.status_code == 200
    assert key["secret"] not in listed.text
    assert listed.json() == [
        {
            "id": key["id"],
            "name": "pbx",
            "prefix": key["prefix"],
            "created_at": pytest.approx(0, abs=1e12),
            "revoked_at": None,
        }
    ]
    pbx = {"Authorization": f"Bearer {key['secret']}"}
    assert (
        c.post("/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx).status_code == 201
    )
    assert c.delete(f"{T}/{t}/api-keys/{key['id']}", headers=a).status_code == 204
    revoked = c.get(f"{T}/{t}/api-keys", headers=a).json()[0]
    assert revoked["revoked_at"] is not None
    assert key["secret"] not in c.get(f"{T}/{t}/api-keys", headers=a).text
    error_of(c.post("/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx), 401)
    error_of(c.post("/api/v1/realtime/tickets", headers=pbx), 401)
    error_of(c.delete(f"{T}/{t}/api-keys/{key['id']}", headers=a), 404)


def test_the_snapshot(acme: Harness) -> None:
    harness = acme
    t = new_tenant(harness)
    c, a = harness.client, harness.admin
    sup = {**GOOD_AGENT, "id": "sup", "email": "sup@acme.example", "roles": ["supervisor"], "queue_ids": []}
    assert c.post(f"{T}/{t}/agents", json=sup, headers=a).status_code == 201
    agent = harness.sign_in(t, "agent1")
    assert c.put("/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
    pbx = harness.api_key(t)
    c.post("/api/v1/interactions", json={"queue_id": "support", "channel": "chat"}, headers=pbx)
    for headers in (a, harness.sign_in(t, "sup")):
        view = c.get(f"{T}/{t}/snapshot", headers=headers)
        assert view.status_code == 200, view.text
        body = view.json()
        assert body["tenant_id"] == t
        assert set(body["queues"]) == {"sales", "support", "messages"}
        assert body["queues"]["sales"]["longest_wait_seconds"] == 0.0
        assert body["agents"]["agent1"]["status"] in ("available", "busy")
        assert body["agents"]["agent1"]["seconds_in_status"] >= 0
        assert len(body["interactions"]) == 1
