"""Connect on the CRM connection page: the authorization-code flow with PKCE as the CRM's integration user,
against a real built-in CRM and against the Salesforce stand-in; the tokens are stored encrypted, the page says
who is connected and since when, and Revoke revokes the token at the CRM and forgets it."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from callbridge.services.crm_connections import CrmConnections
from callbridge.services.crm_oauth import CrmAuthorizations
from callbridge.store.crm_tables import crm_connects_pending
from callbridge_crm import admin as crm_admin
from tests.admin.conftest import csrf_of, errors_of, sign_in_page
from tests.connectors.salesforce.salesforce_standin.rest_api import (
    CLIENT_ID,
    CLIENT_SECRET,
    INSTANCE_URL,
    SalesforceRestStandin,
)
from tests.crm.crm_helpers import Crm, authorize_in_browser
from tests.crm_integration.conftest import crm  # noqa: F401 (fixture)
from tests.e2e.conftest import Harness, make_harness

REDIRECT_URI = "http://127.0.0.1:8000/admin/crm/connected"  # the harness's public URL + the callback path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Harness]:
    for h in make_harness(tmp_path):
        h.setup_tenant("acme")
        sign_in_page(h.client)
        yield h


def connections(h: Harness) -> Any:
    return h.client.app.state.crm_integration.connections  # type: ignore[attr-defined]


def described(h: Harness, crm_name: str) -> dict[str, Any]:
    found: dict[str, Any] = h.client.get(f"/api/v1/tenants/acme/crm-connections/{crm_name}", headers=h.admin).json()
    return found


def press(h: Harness, path: str) -> httpx.Response:
    token = csrf_of(h.client.get("/admin/acme/crm").text)
    return h.client.post(path, data={"csrf_token": token}, follow_redirects=False)


def back_from_the_crm(h: Harness, callback: str) -> httpx.Response:
    parts = urlsplit(callback)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI
    return h.client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def test_connect_to_the_builtin_crm_as_its_integration_user(site: Harness, crm: Crm) -> None:  # noqa: F811
    client = crm_admin.register_client(crm.database_url, name="Callbridge auto log", redirect_uris=[REDIRECT_URI])
    assert client.client_secret is not None
    c = site.client
    token = csrf_of(c.get("/admin/acme/crm").text)
    saved = c.post(
        "/admin/acme/crm/builtin_crm",
        data={
            "csrf_token": token,
            "config.base_url": crm.base_url,
            "credentials.client_id": client.client_id,
            "credentials.client_secret": client.client_secret,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    page = c.get("/admin/acme/crm").text
    assert 'data-connection-state="not_connected"' in page
    assert REDIRECT_URI in page
    problems = press(site, "/admin/acme/crm/builtin_crm/test")
    assert 'data-problem="missing_credentials"' in problems.text

    started = press(site, "/admin/acme/crm/builtin_crm/connect")
    assert started.status_code == 303
    authorize = urlsplit(started.headers["location"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{crm.base_url}/oauth2/authorize"
    assert query["code_challenge_method"] == "S256"
    assert query["prompt"] == "login"
    assert "offline_access" in query["scope"].split()

    done = back_from_the_crm(site, str(authorize_in_browser(crm, started.headers["location"], "abe@example.com")))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/admin/acme/crm?done=crm_connected"
    state = described(site, "builtin_crm")
    assert state["connected"] is True
    assert state["connected_as"] == "Abe Agent <abe@example.com>"
    assert state["connected_at"] is not None
    page = c.get("/admin/acme/crm").text
    assert "Connected as <strong data-connected-as>Abe Agent &lt;abe@example.com&gt;</strong>" in page
    assert 'data-problem="ok"' in press(site, "/admin/acme/crm/builtin_crm/test").text
    audited = c.get("/api/v1/tenants/acme/audit-log", headers=site.admin).json()
    assert [e["action"] for e in audited][0] == "crm_connection.connected"
    stored = connections(site).credentials("acme", "builtin_crm")["refresh_token"]
    assert stored not in str(audited)

    revoked = press(site, "/admin/acme/crm/builtin_crm/revoke")
    assert revoked.status_code == 303, revoked.text
    state = described(site, "builtin_crm")
    assert (state["connected"], state["connected_as"], state["connected_at"]) == (False, "", None)
    with httpx.Client() as http:  # the CRM itself no longer honours the token
        grant = http.post(
            f"{crm.base_url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": stored},
            auth=(client.client_id, client.client_secret),
        )
    assert grant.status_code == 400
    assert grant.json()["error"] == "invalid_grant"
    assert 'data-problem="missing_credentials"' in press(site, "/admin/acme/crm/builtin_crm/test").text


def test_connect_to_salesforce_as_its_integration_user(site: Harness) -> None:
    org = SalesforceRestStandin(valid_tokens=set(), refresh_tokens=set(), callback_urls={REDIRECT_URI})
    connections(site).http = httpx.AsyncClient(transport=org.transport())
    c = site.client
    token = csrf_of(c.get("/admin/acme/crm").text)
    form = {
        "csrf_token": token,
        "config.instance_url": INSTANCE_URL,
        "config.environment": "sandbox",
        "credentials.client_id": CLIENT_ID,
        "credentials.client_secret": CLIENT_SECRET,
    }
    assert c.post("/admin/acme/crm/salesforce", data=form, follow_redirects=False).status_code == 303

    started = press(site, "/admin/acme/crm/salesforce/connect")
    assert started.headers["location"].startswith("https://test.salesforce.com/services/oauth2/authorize?")
    allow_page = org.handle(httpx.Request("GET", started.headers["location"]))
    assert allow_page.status_code == 200, allow_page.text
    allow = re.search(r'id="allow" href="([^"]+)"', allow_page.text)
    assert allow is not None

    done = back_from_the_crm(site, unescape(allow.group(1)))
    assert done.status_code == 303, done.text
    state = described(site, "salesforce")
    assert state["connected_as"] == "Integration User <integration@callbridge-test.example>"
    assert org.token_form(0)["grant_type"] == "authorization_code"
    assert 'data-problem="ok"' in press(site, "/admin/acme/crm/salesforce/test").text

    assert press(site, "/admin/acme/crm/salesforce/revoke").status_code == 303
    assert org.revoked == ["5Aep861connected1"]
    assert org.refresh_tokens == set()
    assert described(site, "salesforce")["connected"] is False
    site.run(connections(site).http.aclose())


def test_a_callback_that_was_not_started_here_is_refused(site: Harness) -> None:
    refused = site.client.get("/admin/crm/connected?state=forged&code=x")
    assert refused.status_code == 400
    assert "Press Connect again" in refused.text


def test_connect_needs_the_oauth_client_first(site: Harness) -> None:
    refused = press(site, "/admin/acme/crm/salesforce/connect")
    assert refused.status_code == 422
    assert "client_id and client_secret first" in errors_of(refused.text)["form"]


def test_a_connect_started_on_one_node_is_finished_by_another_once(site: Harness) -> None:
    c = site.client
    form = {
        "csrf_token": csrf_of(c.get("/admin/acme/crm").text),
        "config.instance_url": INSTANCE_URL,
        "credentials.client_id": CLIENT_ID,
        "credentials.client_secret": CLIENT_SECRET,
    }
    assert c.post("/admin/acme/crm/salesforce", data=form, follow_redirects=False).status_code == 303
    started = press(site, "/admin/acme/crm/salesforce/connect")
    query = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}
    mine = connections(site)
    with httpx.Client() as never_used:  # what another node holds: the same database and secret key, nothing else
        other_node = CrmAuthorizations(CrmConnections(mine.engine, mine.cipher, never_used))  # type: ignore[arg-type]
        stored = "".join(str(row) for row in crm_connects_rows(mine.engine))
        assert query["state"] not in stored, "the state is kept only as a hash"

        pending = other_node.take(query["state"])

        assert pending is not None
        assert (pending.tenant_id, pending.crm, pending.redirect_uri) == ("acme", "salesforce", REDIRECT_URI)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(pending.code_verifier.encode()).digest()).rstrip(b"=")
        assert challenge.decode() == query["code_challenge"], "the PKCE verifier crossed intact"
        assert pending.code_verifier not in stored, "the verifier is kept encrypted"
        assert other_node.take(query["state"]) is None
    refused = c.get(f"/admin/crm/connected?state={query['state']}&code=x")
    assert refused.status_code == 400, "a state is taken once, whichever node takes it"


def crm_connects_rows(engine: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(crm_connects_pending)))
