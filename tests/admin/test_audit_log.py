"""Every admin change is in the audit log, with who, what and when; secrets never are."""

from __future__ import annotations

import json

from tests.admin.conftest import agent_session, make_admin
from tests.e2e.conftest import Harness


def log(h: Harness, headers: dict[str, str] | None = None, **params: str) -> list[dict[str, object]]:
    response = h.client.get("/api/v1/tenants/acme/audit-log", params=params, headers=headers or h.admin)
    assert response.status_code == 200, response.text
    entries: list[dict[str, object]] = response.json()
    return entries


def test_each_kind_of_change_through_the_api_is_recorded_with_its_actor(harness: Harness) -> None:
    h, c = harness, harness.client
    actions = [e["action"] for e in log(h)]
    assert actions.count("agent.created") == 2
    assert {"tenant.created", "skill.created", "queue.created"} <= set(actions)

    queue = c.get("/api/v1/tenants/acme/queues/sales", headers=h.admin).json()
    queue["offer_timeout_seconds"] = 45
    assert c.put("/api/v1/tenants/acme/queues/sales", json=queue, headers=h.admin).status_code == 200
    newest = log(h)[0]
    assert newest["action"] == "queue.updated"
    assert newest["target_type"] == "queue"
    assert newest["target_id"] == "sales"
    assert newest["changes"] == {"offer_timeout_seconds": {"before": 20, "after": 45}}
    assert newest["actor"] == {"kind": "local_admin", "id": newest["actor"]["id"], "name": "root@example.com"}  # type: ignore[index]

    # saving the same values again changes nothing, so records nothing
    assert c.put("/api/v1/tenants/acme/queues/sales", json=queue, headers=h.admin).status_code == 200
    assert log(h)[0]["id"] == newest["id"]

    assert c.post("/api/v1/tenants/acme/skills", json={"name": "french"}, headers=h.admin).status_code == 201
    assert c.delete("/api/v1/tenants/acme/skills/french", headers=h.admin).status_code == 204
    assert c.delete("/api/v1/tenants/acme/agents/agent2", headers=h.admin).status_code == 204
    tenant = {"name": "Acme Inc", "time_zone": "Europe/Paris", "phone_region": "FR", "allowed_origins": []}
    assert c.put("/api/v1/tenants/acme", json=tenant, headers=h.admin).status_code == 200
    recent = [(e["action"], e["target_id"]) for e in log(h)[:4]]
    assert recent == [
        ("tenant.updated", "acme"),
        ("agent.deleted", "agent2"),
        ("skill.deleted", "french"),
        ("skill.created", "french"),
    ]
    deleted = log(h, target_type="agent", target_id="agent2")[0]
    assert deleted["changes"]["email"] == {"before": "agent2@acme.example", "after": None}  # type: ignore[index]


def test_an_agent_admin_is_named_by_e_mail_and_a_refused_change_records_nothing(harness: Harness) -> None:
    h, c = harness, harness.client
    make_admin(h, "acme", "agent1")
    headers = {"Authorization": f"Bearer {agent_session(h, 'acme', 'agent1')}"}
    before = len(log(h))
    bad = {"id": "q2", "name": "Q", "channel": "phone", "offer_timeout_seconds": 1}
    assert c.post("/api/v1/tenants/acme/queues", json=bad, headers=headers).status_code == 422
    assert c.post("/api/v1/tenants/acme/queues", json={**bad, "required_skills": {"nope": 1}}).status_code == 401
    assert len(log(h)) == before
    assert (
        c.post("/api/v1/tenants/acme/queues", json={**bad, "offer_timeout_seconds": 30}, headers=headers).status_code
        == 201
    )
    newest = log(h, headers)[0]
    assert newest["actor"]["kind"] == "agent"
    assert newest["actor"]["name"] == "agent1@acme.example"


def test_api_key_secrets_never_reach_the_log(harness: Harness) -> None:
    h, c = harness, harness.client
    created = c.post("/api/v1/tenants/acme/api-keys", json={"name": "pbx"}, headers=h.admin).json()
    assert c.delete(f"/api/v1/tenants/acme/api-keys/{created['id']}", headers=h.admin).status_code == 204
    entries = log(h, target_type="api_key")
    assert [e["action"] for e in entries] == ["api_key.revoked", "api_key.created"]
    assert entries[1]["changes"]["name"] == {"before": None, "after": "pbx"}  # type: ignore[index]
    assert created["secret"] not in json.dumps(entries)
    assert created["secret"][8:] not in json.dumps(entries)


def test_filters_and_paging(harness: Harness) -> None:
    h = harness
    everything = log(h)
    assert {e["target_type"] for e in log(h, target_type="agent")} == {"agent"}
    assert log(h, actor="root@")[0]["id"] == everything[0]["id"]
    assert log(h, actor="nobody") == []
    assert log(h, since="2000-01-01T00:00:00Z", until="2000-01-02T00:00:00Z") == []
    assert len(log(h, since="2000-01-01T00:00:00Z")) == len(everything)
    first = log(h, limit="2")
    rest = log(h, before_id=str(first[-1]["id"]))
    assert [e["id"] for e in first + rest] == [e["id"] for e in everything]
    # another tenant's changes are not in this tenant's log
    assert all(e["target_id"] != "globex" for e in everything)


def test_the_audit_log_api_is_for_admins_of_the_tenant(harness: Harness) -> None:
    h, c = harness, harness.client
    url = "/api/v1/tenants/acme/audit-log"
    assert c.get(url).status_code == 401
    agent = {"Authorization": f"Bearer {agent_session(h, 'acme', 'agent1')}"}
    assert c.get(url, headers=agent).status_code == 403
    assert c.get(url, headers=h.api_key("acme")).status_code == 403
    make_admin(h, "globex", "agent1")
    other = {"Authorization": f"Bearer {agent_session(h, 'globex', 'agent1')}"}
    assert c.get(url, headers=other).status_code == 404
    assert c.get(url, params={"limit": "0"}, headers=h.admin).json()["field"] == "limit"
