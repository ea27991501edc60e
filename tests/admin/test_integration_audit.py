"""The REST endpoints of single sign-on, screen pop, auto log, CRM connections, the chat widget and report
teams write one audit entry per change, with who did it and the fields that changed; secrets only as changed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert

from callbridge.services.audit import SECRET_VALUE
from callbridge.store.crm_tables import crm_outbox
from tests.admin.conftest import agent_session, make_admin
from tests.e2e.conftest import Harness


def entries(h: Harness, target_type: str) -> list[dict[str, Any]]:
    response = h.client.get("/api/v1/tenants/acme/audit-log", params={"target_type": target_type}, headers=h.admin)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def put(h: Harness, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = h.client.put(f"/api/v1/tenants/acme/{path}", json=body, headers=headers or h.admin)
    assert response.status_code == 200, response.text
    return response.json()


def test_single_sign_on_settings_are_audited_with_the_secret_only_as_changed(harness: Harness) -> None:
    h = harness
    body = {"kind": "salesforce", "client_id": "3MVG9", "client_secret": "first-secret"}
    put(h, "sso", body)
    put(h, "sso", {**body, "client_id": "3MVG9b", "client_secret": None})  # keeps the secret
    put(h, "sso", {**body, "client_id": "3MVG9b", "client_secret": "second-secret"})
    put(h, "sso", {**body, "client_id": "3MVG9b", "client_secret": None})  # nothing changed
    log = entries(h, "sso")
    assert [e["action"] for e in log] == ["sso.updated", "sso.updated", "sso.created"]
    assert log[2]["changes"]["client_id"] == {"before": None, "after": "3MVG9"}
    assert log[2]["changes"]["client_secret"] == {"before": None, "after": SECRET_VALUE}
    assert log[1]["changes"] == {"client_id": {"before": "3MVG9", "after": "3MVG9b"}}
    assert log[0]["changes"] == {"client_secret": {"before": SECRET_VALUE, "after": SECRET_VALUE}}
    assert log[0]["actor"]["name"] == "root@example.com"
    assert "first-secret" not in json.dumps(log)
    assert "second-secret" not in json.dumps(log)
    # a refused change records nothing
    bad = h.client.put("/api/v1/tenants/acme/sso", json={"kind": "oidc", "client_id": "x"}, headers=h.admin)
    assert bad.status_code == 422
    assert len(entries(h, "sso")) == 3


def test_screen_pop_and_auto_log_settings_are_audited(harness: Harness) -> None:
    h = harness
    make_admin(h, "acme", "agent1")
    agent_admin = {"Authorization": f"Bearer {agent_session(h, 'acme', 'agent1')}"}
    put(h, "screen-pop", {"enabled": True, "triggers": ["offered", "accepted"], "window": {"width": 800}}, agent_admin)
    pop = entries(h, "screen_pop")
    assert [e["action"] for e in pop] == ["screen_pop.updated"]
    assert pop[0]["actor"] == {"kind": "agent", "id": "agent1", "name": "agent1@acme.example"}
    assert pop[0]["changes"]["enabled"] == {"before": False, "after": True}
    assert pop[0]["changes"]["triggers"] == {"before": ["offered"], "after": ["offered", "accepted"]}
    assert pop[0]["changes"]["window"]["after"]["width"] == 800
    assert "crm" not in pop[0]["changes"]
    bad = h.client.put("/api/v1/tenants/acme/screen-pop", json={"search_timeout_ms": 1}, headers=h.admin)
    assert bad.status_code == 422
    assert len(entries(h, "screen_pop")) == 1

    put(h, "auto-log/settings", {"phone": True, "chat": True})
    put(h, "auto-log/settings", {"phone": True, "chat": True})  # the same again: nothing to record
    log = entries(h, "auto_log_settings")
    assert [e["action"] for e in log] == ["auto_log_settings.updated"]
    assert log[0]["changes"] == {"phone": {"before": False, "after": True}, "chat": {"before": False, "after": True}}


def test_crm_connections_are_audited_with_credentials_only_as_changed(harness: Harness) -> None:
    h = harness
    credentials = {"client_id": "cb_x", "client_secret": "top-secret", "refresh_token": "rt-1"}
    put(h, "crm-connections/builtin_crm", {"config": {"base_url": "http://127.0.0.1:9"}, "credentials": credentials})
    put(h, "crm-connections/builtin_crm", {"config": {"base_url": "http://127.0.0.1:10"}})
    put(h, "crm-connections/builtin_crm", {"config": {"base_url": "http://127.0.0.1:10"}, "credentials": credentials})
    rotated = {**credentials, "refresh_token": "rt-2"}
    put(h, "crm-connections/builtin_crm", {"config": {"base_url": "http://127.0.0.1:10"}, "credentials": rotated})
    log = entries(h, "crm_connection")
    assert [e["action"] for e in log] == ["crm_connection.updated", "crm_connection.updated", "crm_connection.created"]
    assert log[2]["target_id"] == "builtin_crm"
    assert log[2]["changes"]["base_url"] == {"before": None, "after": "http://127.0.0.1:9"}
    assert log[2]["changes"]["credentials.client_secret"] == {"before": None, "after": SECRET_VALUE}
    assert log[1]["changes"] == {"base_url": {"before": "http://127.0.0.1:9", "after": "http://127.0.0.1:10"}}
    assert log[0]["changes"] == {"credentials.refresh_token": {"before": SECRET_VALUE, "after": SECRET_VALUE}}
    text = json.dumps(log)
    for secret in ("top-secret", "rt-1", "rt-2", "cb_x"):
        assert secret not in text
    refused = h.client.put(
        "/api/v1/tenants/acme/crm-connections/builtin_crm", json={"config": {"base_url": "ftp://x"}}, headers=h.admin
    )
    assert refused.status_code == 422
    assert len(entries(h, "crm_connection")) == 3


def test_an_auto_log_retry_is_audited(harness: Harness) -> None:
    h = harness
    with h.services.engine.begin() as connection:
        connection.execute(
            insert(crm_outbox).values(
                tenant_id="acme",
                interaction_id="i-1",
                crm="builtin_crm",
                status="failed",
                attempts=3,
                next_attempt_at=0,
                last_error="The CRM user needs the 'API Enabled' permission.",
                error_code="API_DISABLED",
                payload={"subject": "Call"},
                created_at=1,
                updated_at=1,
            )
        )
    response = h.client.post("/api/v1/tenants/acme/auto-log/i-1/retry", headers=h.admin)
    assert response.status_code == 200, response.text
    log = entries(h, "auto_log")
    assert [(e["action"], e["target_id"]) for e in log] == [("auto_log.retried", "i-1")]
    assert log[0]["changes"]["status"] == {"before": "failed", "after": "pending"}
    assert log[0]["changes"]["attempts"] == {"before": 3, "after": 0}
    assert h.client.post("/api/v1/tenants/acme/auto-log/nope/retry", headers=h.admin).status_code == 404
    assert len(entries(h, "auto_log")) == 1


def test_chat_widget_settings_and_report_teams_are_audited(harness: Harness) -> None:
    h = harness
    body = {"widget_origins": ["https://www.acme.example"], "form_fields": [{"name": "order", "label": "Order"}]}
    put(h, "chat/settings", body)
    put(h, "chat/settings", body)
    chat = entries(h, "chat_settings")
    assert [e["action"] for e in chat] == ["chat_settings.updated"]
    assert chat[0]["changes"]["widget_origins"] == {"before": [], "after": ["https://www.acme.example"]}
    assert chat[0]["changes"]["form_fields"]["after"][0]["name"] == "order"

    put(h, "reports/teams/agent1", {"team": "North"})
    put(h, "reports/teams/agent1", {"team": ""})
    teams = entries(h, "agent_team")
    assert [(e["action"], e["target_id"]) for e in teams] == [("team.updated", "agent1"), ("team.updated", "agent1")]
    assert teams[1]["changes"] == {"team": {"before": "", "after": "North"}}
    assert teams[0]["changes"] == {"team": {"before": "North", "after": ""}}
    missing = h.client.put("/api/v1/tenants/acme/reports/teams/nobody", json={"team": "x"}, headers=h.admin)
    assert missing.status_code == 404
    assert len(entries(h, "agent_team")) == 2
