"""Hold and resume: Callbridge tells the PBX through the tenant's signed command webhook, then records it.

`PbxStandIn` is a real HTTP server on loopback playing the PBX's command endpoint: it checks each
command's signature and answers as told (200, 500, or too late)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from callbridge.store.tables import interaction_events
from tests.channels.conftest import Tenant
from tests.channels.test_telephony import incoming, send

SECRET = "pbx-shared-secret-0123456789"


class PbxStandIn:
    """The PBX's command endpoint, on 127.0.0.1."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(self.headers.get("X-Callbridge-Signature", ""), expected)
                time.sleep(stand_in.delay)
                if signed:
                    stand_in.commands.append(json.loads(body))
                self.send_response(stand_in.status if signed else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/commands"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pbx() -> Iterator[PbxStandIn]:
    stand_in = PbxStandIn()
    yield stand_in
    stand_in.close()


def configure(tenant: Tenant, url: str, secret: str | None = SECRET, **more: Any) -> Any:
    body: dict[str, Any] = {"webhook_url": url, **more}
    if secret is not None:
        body["signing_secret"] = secret
    return tenant.harness.client.put(
        f"/api/v1/tenants/{tenant.id}/telephony/settings", json=body, headers=tenant.harness.admin
    )


def connected_call(tenant: Tenant, call_id: str = "call-1") -> dict[str, str]:
    agent = tenant.agent("agent1")
    send(tenant, **incoming(event_id=f"{call_id}-in", call_id=call_id))
    accepted = tenant.harness.client.post(f"/api/v1/me/offers/{call_id}/accept", headers=agent)
    assert accepted.status_code == 200, accepted.text
    return agent


def hold_rows(tenant: Tenant) -> list[tuple[str, str | None, dict[str, Any]]]:
    with tenant.harness.services.engine.connect() as connection:
        rows = connection.execute(
            select(interaction_events.c.type, interaction_events.c.agent_id, interaction_events.c.detail)
            .where(interaction_events.c.tenant_id == tenant.id, interaction_events.c.type.in_(["held", "resumed"]))
            .order_by(interaction_events.c.id)
        ).all()
    return [(r.type, r.agent_id, dict(r.detail)) for r in rows]


def live(tenant: Tenant, call_id: str = "call-1") -> dict[str, Any]:
    interactions: dict[str, Any] = tenant.snapshot()["interactions"]  # type: ignore[assignment]
    found: dict[str, Any] = interactions[call_id]
    return found


def test_settings_are_admin_only_keep_the_secret_encrypted_and_are_audited(tenant: Tenant, pbx: PbxStandIn) -> None:
    client, admin = tenant.harness.client, tenant.harness.admin
    url = f"/api/v1/tenants/{tenant.id}/telephony/settings"
    assert client.get(url, headers=admin).json() == {
        "webhook_url": None,
        "has_signing_secret": False,
        "timeout_seconds": 3.0,
        "commands": ["hold", "resume"],
    }
    assert client.get(url, headers=tenant.agent("agent1")).status_code == 403
    first = configure(tenant, "http://example.com/commands")
    assert first.status_code == 422
    assert first.json()["field"] == "webhook_url"
    short = configure(tenant, pbx.url, secret="short")
    assert short.status_code == 422
    assert short.json()["field"] == "signing_secret"
    no_secret = configure(tenant, pbx.url, secret=None)
    assert no_secret.status_code == 422
    assert no_secret.json()["field"] == "signing_secret"
    saved = configure(tenant, pbx.url)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "webhook_url": pbx.url,
        "has_signing_secret": True,
        "timeout_seconds": 3.0,
        "commands": ["hold", "resume"],
    }
    # the secret is stored encrypted, not as given
    with tenant.harness.services.engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT signing_secret FROM telephony_command_settings WHERE tenant_id = ?", (tenant.id,)
        ).scalar_one()
    assert SECRET not in stored
    # omitting the secret keeps it
    assert configure(tenant, pbx.url, secret=None, timeout_seconds=2).status_code == 200
    log = client.get(f"/api/v1/tenants/{tenant.id}/audit-log", headers=admin).json()
    entries = [e for e in log if e["action"] == "telephony_settings.updated"]
    assert len(entries) == 2
    assert SECRET not in json.dumps(entries)


def test_hold_and_resume_tell_the_pbx_then_record_and_show_it(tenant: Tenant, pbx: PbxStandIn) -> None:
    assert configure(tenant, pbx.url).status_code == 200
    agent = connected_call(tenant)
    client = tenant.harness.client
    held = client.post("/api/v1/me/interactions/call-1/hold", headers=agent)
    assert held.status_code == 200, held.text
    assert "on_hold_since" in held.json()["data"]
    assert held.json()["state"] == "connected"
    assert [(c["command"], c["call_id"], c["agent_id"]) for c in pbx.commands] == [("hold", "call-1", "agent1")]
    assert isinstance(pbx.commands[0]["at"], float)
    assert "on_hold_since" in live(tenant)["data"]
    assert client.post("/api/v1/me/interactions/call-1/hold", headers=agent).status_code == 409  # already
    resumed = client.post("/api/v1/me/interactions/call-1/resume", headers=agent)
    assert resumed.status_code == 200, resumed.text
    assert "on_hold_since" not in resumed.json()["data"]
    assert [c["command"] for c in pbx.commands] == ["hold", "resume"]
    rows = hold_rows(tenant)
    assert [(kind, agent_id) for kind, agent_id, _ in rows] == [("held", "agent1"), ("resumed", "agent1")]
    assert rows[1][2]["held_seconds"] >= 0
    assert client.post("/api/v1/me/interactions/call-1/resume", headers=agent).status_code == 409  # not on hold


def test_refusals_change_nothing(tenant: Tenant, pbx: PbxStandIn) -> None:
    client = tenant.harness.client
    agent = connected_call(tenant)
    # no command channel
    state = "/api/v1/me/interactions/call-1/hold"
    assert client.get(state, headers=agent).json() == {"available": False, "on_hold_since": None}
    missing = client.post("/api/v1/me/interactions/call-1/hold", headers=agent)
    assert missing.status_code == 503
    assert "no telephony command webhook" in missing.json()["message"]
    assert configure(tenant, pbx.url, timeout_seconds=0.5).status_code == 200
    assert client.get(state, headers=agent).json() == {"available": True, "on_hold_since": None}
    # not yours
    other = tenant.agent("agent2")
    assert client.get(state, headers=other).status_code == 404
    assert client.post("/api/v1/me/interactions/call-1/hold", headers=other).status_code == 409
    # PBX refuses
    pbx.status = 500
    refused = client.post("/api/v1/me/interactions/call-1/hold", headers=agent)
    assert refused.status_code == 503
    assert "HTTP 500" in refused.json()["message"]
    # PBX too slow
    pbx.status, pbx.delay = 200, 1.0
    slow = client.post("/api/v1/me/interactions/call-1/hold", headers=agent)
    assert slow.status_code == 503
    assert "did not answer" in slow.json()["message"]
    pbx.delay = 0
    # not connected: a call still waiting, and an unknown one
    send(tenant, **incoming(event_id="e-2", call_id="call-2"))
    assert client.post("/api/v1/me/interactions/call-2/hold", headers=agent).status_code == 409
    assert client.post("/api/v1/me/interactions/nope/hold", headers=agent).status_code == 404
    assert "on_hold_since" not in live(tenant)["data"]
    assert hold_rows(tenant) == []
    commands_sent = len(pbx.commands)  # the slow one reached the PBX; nothing else was sent
    assert commands_sent <= 1


def test_the_pbx_reports_hold_and_resume_idempotently(tenant: Tenant) -> None:
    connected_call(tenant)
    held = send(tenant, event_id="h1", type="call.held", call_id="call-1")
    assert held.status_code == 200, held.text
    assert held.json()["applied"] is True
    assert "on_hold_since" in held.json()["interaction"]["data"]
    again = send(tenant, event_id="h1", type="call.held", call_id="call-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert send(tenant, event_id="h2", type="call.held", call_id="call-1").json()["applied"] is False
    resumed = send(tenant, event_id="r1", type="call.resumed", call_id="call-1")
    assert resumed.json()["applied"] is True
    assert "on_hold_since" not in resumed.json()["interaction"]["data"]
    assert [(kind, detail["source"]) for kind, _, detail in hold_rows(tenant)] == [("held", "pbx"), ("resumed", "pbx")]
    reserved = send(tenant, **incoming(event_id="x", call_id="call-9", ivr={"on_hold_since": "1"}))
    assert reserved.status_code == 422
    assert reserved.json()["field"] == "ivr.on_hold_since"


def test_a_call_that_ends_on_hold_is_resumed(tenant: Tenant) -> None:
    connected_call(tenant)
    send(tenant, event_id="h1", type="call.held", call_id="call-1")
    ended = send(tenant, event_id="end", type="call.ended", call_id="call-1")
    assert ended.json()["interaction"]["state"] == "wrap_up"
    assert "on_hold_since" not in live(tenant)["data"]
    assert [(kind, detail["source"]) for kind, _, detail in hold_rows(tenant)] == [
        ("held", "pbx"),
        ("resumed", "ended"),
    ]
