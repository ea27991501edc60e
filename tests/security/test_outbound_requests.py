"""Server-side request forgery: URLs a tenant admin sets are refused when saved and again when connecting.

Stand-ins are real HTTP servers on 127.0.0.1. The Callbridge under test allows no internal range (a default
installation); the stand-ins count every request they get, so "refused" means "nothing reached them".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from callbridge.auth.oidc import ProviderKind
from callbridge.channels.commands import CommandSettingsStore
from callbridge.outbound import OutboundPolicy
from callbridge.services.crm_connections import CrmConnections
from callbridge.services.sso import ProviderSettings, SsoService
from tests.e2e.conftest import LOCAL_SERVICES, Harness, make_harness

ANYWHERE = OutboundPolicy.from_setting("0.0.0.0/0,::/0")  # what a save looked like before the name changed
INTERNAL_SPELLINGS = [
    "http://127.0.0.1:8001",
    "http://2130706433",  # decimal
    "http://0177.0.0.1",  # octal
    "http://0x7f.0.0.1",  # hex
    "http://127.1",  # short
    "http://[::1]",
    "http://[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
    "https://[::ffff:a9fe:a9fe]",  # the same, mapped
    "http://0.0.0.0:8001",  # unspecified
    "https://10.1.2.3",
    "https://192.168.1.1",
    "https://172.16.0.1",
    "http://localhost:8001",
]


class StandIn:
    """An HTTP server on loopback that counts requests and answers `status` (with `headers`)."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.status = status
        self.headers = headers or {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                stand_in.requests.append((self.command, self.path, dict(self.headers)))
                self.send_response(stand_in.status)
                for name, value in stand_in.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """A Callbridge that allows no internal address, with tenant `t1`."""
    for harness in make_harness(tmp_path_factory.mktemp("strict"), outbound_allowed_networks=""):
        harness.setup_tenant("t1")
        yield harness


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Harness]:
    """A Callbridge whose administrator allows this machine (as the demo does), with tenant `t1`."""
    for harness in make_harness(tmp_path, outbound_allowed_networks=LOCAL_SERVICES):
        harness.setup_tenant("t1")
        yield harness


def _crm_body(base_url: str) -> dict[str, Any]:
    return {
        "config": {"base_url": base_url},
        "credentials": {"client_id": "cb", "client_secret": "s3cret", "refresh_token": "r3fresh"},
    }


def test_internal_addresses_in_any_spelling_are_refused_when_saved(strict: Harness) -> None:
    c, admin = strict.client, strict.admin
    sso = {"kind": "builtin_crm", "client_id": "callbridge"}
    for url in [*INTERNAL_SPELLINGS, "https://user:password@crm.example.com"]:
        crm = c.put("/api/v1/tenants/t1/crm-connections/builtin_crm", json=_crm_body(url), headers=admin)
        assert crm.status_code == 422, (url, crm.text)
        assert crm.json()["field"] == "config.base_url", url
        webhook = {"webhook_url": url.replace("http://", "https://"), "signing_secret": "x" * 32}
        pbx = c.put("/api/v1/tenants/t1/telephony/settings", json=webhook, headers=admin)
        assert pbx.status_code == 422, (url, pbx.text)
        assert pbx.json()["field"] == "webhook_url", url
        issuer = c.put("/api/v1/tenants/t1/sso", json={**sso, "issuer": url}, headers=admin)
        assert issuer.status_code == 422, (url, issuer.text)
        assert issuer.json()["field"] == "issuer", url
        discovery = {"kind": "oidc", "client_id": "cb", "issuer": "https://idp.example.com", "discovery_url": url}
        found = c.put("/api/v1/tenants/t1/sso", json=discovery, headers=admin)
        assert found.status_code == 422, (url, found.text)
        assert found.json()["field"] == "discovery_url", url
    # the message says what to do; nothing was saved
    assert "CALLBRIDGE_OUTBOUND_ALLOWED_NETWORKS" in crm.json()["message"] or "password" in crm.json()["message"]
    assert c.get("/api/v1/tenants/t1/crm-connections/builtin_crm", headers=admin).status_code == 404
    assert c.get("/api/v1/tenants/t1/telephony/settings", headers=admin).json()["webhook_url"] is None
    assert c.get("/api/v1/tenants/t1/sso", headers=admin).status_code == 404


def test_a_url_that_now_leads_inside_is_refused_when_connecting(strict: Harness, stand_in: StandIn) -> None:
    """The names were checked when saved; they now resolve to loopback (DNS changed): nothing may reach it."""
    svc = strict.services
    url = f"http://localhost:{stand_in.port}"
    integration = strict.client.app.state.crm_integration  # type: ignore[attr-defined]
    before = CrmConnections(svc.engine, integration.connections.cipher, integration.http, plugins=None, policy=ANYWHERE)
    before.save("t1", "builtin_crm", _crm_body(url)["config"], _crm_body(url)["credentials"], 0.0)
    problems = strict.client.get("/api/v1/tenants/t1/crm-connections/builtin_crm/problems", headers=strict.admin)
    assert [p["code"] for p in problems.json()] == ["unreachable"]

    channels = strict.client.app.state.channels  # type: ignore[attr-defined]
    store = CommandSettingsStore(svc.engine, channels.command_settings.cipher, svc.clock, ANYWHERE)
    store.save("t1", f"{url}/commands", "x" * 32, 3.0)
    agent = _connected_call(strict, "t1")
    held = strict.client.post("/api/v1/me/interactions/call-ssrf/hold", headers=agent)
    assert held.status_code == 503, held.text

    sso = SsoService(svc.engine, svc.node, svc.clock, strict.client.app.state.sso.cipher, policy=ANYWHERE)  # type: ignore[attr-defined]
    sso.configure("t1", ProviderSettings(kind=ProviderKind.BUILTIN_CRM, client_id="cb", issuer=url))
    page = strict.client.get("/sso/login", params={"tenant": "t1"}, follow_redirects=False)  # anonymous
    assert page.status_code == 502, page.text
    assert stand_in.requests == []


def test_test_connection_gives_one_outcome_for_every_unreachable_target(local: Harness) -> None:
    """A closed port, an address the policy refuses, a name that does not exist: the same answer."""
    svc = local.services
    integration = local.client.app.state.crm_integration  # type: ignore[attr-defined]
    saving = CrmConnections(svc.engine, integration.connections.cipher, integration.http, policy=ANYWHERE)
    closed = StandIn()
    closed.close()  # nothing listens there any more
    outcomes = []
    for url in (f"http://127.0.0.1:{closed.port}", "http://10.255.255.1:8001", "https://nowhere.invalid"):
        saving.save("t1", "builtin_crm", {"base_url": url}, _crm_body(url)["credentials"], 0.0)
        integration.connections.forget("t1", "builtin_crm")  # the app's cache of the connector
        answer = local.client.get("/api/v1/tenants/t1/crm-connections/builtin_crm/problems", headers=local.admin)
        assert answer.status_code == 200, answer.text
        outcomes.append(answer.json())
    assert outcomes[0] == outcomes[1] == outcomes[2], outcomes
    assert outcomes[0][0]["code"] == "unreachable"


def test_a_redirect_is_not_followed_with_the_signature(local: Harness, stand_in: StandIn) -> None:
    elsewhere = StandIn()
    try:
        stand_in.status, stand_in.headers = 307, {"Location": f"http://127.0.0.1:{elsewhere.port}/steal"}
        body = {"webhook_url": f"http://127.0.0.1:{stand_in.port}/commands", "signing_secret": "x" * 32}
        saved = local.client.put("/api/v1/tenants/t1/telephony/settings", json=body, headers=local.admin)
        assert saved.status_code == 200, saved.text
        agent = _connected_call(local, "t1")
        held = local.client.post("/api/v1/me/interactions/call-ssrf/hold", headers=agent)
        assert held.status_code == 503, held.text
        assert len(stand_in.requests) == 1
        assert elsewhere.requests == []
    finally:
        elsewhere.close()


def _connected_call(harness: Harness, tenant_id: str) -> dict[str, str]:
    agent = harness.sign_in(tenant_id, "agent1")
    assert harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
    event = {
        "event_id": "call-ssrf-in",
        "type": "call.incoming",
        "call_id": "call-ssrf",
        "queue_id": "sales",
        "from_address": "+14155550100",
        "to_address": "+18005550000",
    }
    sent = harness.client.post("/api/v1/telephony/events", json=event, headers=harness.api_key(tenant_id))
    assert sent.status_code == 200, sent.text
    accepted = harness.client.post("/api/v1/me/offers/call-ssrf/accept", headers=agent)
    assert accepted.status_code == 200, accepted.text
    return agent
