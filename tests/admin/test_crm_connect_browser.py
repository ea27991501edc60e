"""Connect in Debian's chromium: an admin saves the OAuth client, presses Connect, signs in to the CRM as the
integration user and allows access, and comes back to a page saying who is connected and since when; then
Revoke. Against a real built-in CRM, and against the Salesforce stand-in (the browser's requests to the login
host are answered by it, as the server's are)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callbridge_crm import admin as crm_admin
from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.connectors.salesforce.salesforce_standin.rest_api import (
    CLIENT_ID,
    CLIENT_SECRET,
    INSTANCE_URL,
    SalesforceRestStandin,
)
from tests.crm.crm_helpers import PASSWORD, Crm
from tests.crm_integration.conftest import crm  # noqa: F401 (fixture)
from tests.e2e.conftest import running_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    tmp = tmp_path_factory.mktemp("crm-connect-browser")
    with running_app(tmp, ADMIN_EMAIL, ADMIN_PASSWORD, public_url="auto") as (base, app):
        token = httpx.post(
            f"{base}/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{base}/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=headers).is_success
        yield base, app


def sign_in(page: Any) -> None:
    page.goto("/admin/acme/crm")
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/acme/crm")


def test_an_admin_connects_the_builtin_crm_and_revokes_it(
    server: tuple[str, Any],
    browser: Any,
    crm: Crm,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    base, _app = server
    client = crm_admin.register_client(
        crm.database_url, name="Callbridge auto log", redirect_uris=[f"{base}/admin/crm/connected"]
    )
    assert client.client_secret is not None
    context = browser.new_context(base_url=base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page)
        panel = page.locator('[data-crm="builtin_crm"]')
        assert f"{base}/admin/crm/connected" in panel.locator("[data-redirect-uri]").inner_text()
        panel.locator("#f-builtin_crm-base_url").fill(crm.base_url)
        panel.locator("#f-builtin_crm-client_id").fill(client.client_id)
        panel.locator("#f-builtin_crm-client_secret").fill(client.client_secret)
        panel.get_by_role("button", name="Save Built-in CRM connection").click()
        assert "CRM connection saved" in page.inner_text("[role=status]")
        panel = page.locator('[data-crm="builtin_crm"]')
        assert "Not connected" in panel.locator("[data-connection-state]").inner_text()

        panel.get_by_role("button", name="Connect", exact=True).click()
        page.wait_for_url(f"{crm.base_url}/login**")
        page.fill("input[name=email]", "abe@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url("**/admin/acme/crm?done=crm_connected")

        assert "CRM connected as its integration user" in page.inner_text("[role=status]")
        panel = page.locator('[data-crm="builtin_crm"]')
        state = panel.locator('[data-connection-state="connected"]').inner_text()
        assert "Connected as Abe Agent <abe@example.com> since" in state
        panel.get_by_role("button", name="Test connection").click()
        assert "Connected" in page.inner_text('[data-problem="ok"]')
        page.locator('[data-crm="builtin_crm"]').screenshot(path=str(artifacts_dir / "crm-connected.png"))

        page.locator('[data-crm="builtin_crm"]').get_by_role("button", name="Revoke").click()
        page.wait_for_url("**/admin/acme/crm?done=crm_revoked")
        assert "Not connected" in page.locator('[data-crm="builtin_crm"] [data-connection-state]').inner_text()
    finally:
        context.close()


def test_an_admin_connects_salesforce(server: tuple[str, Any], browser: Any, artifacts_dir: Path) -> None:
    base, app = server
    org = SalesforceRestStandin(valid_tokens=set(), refresh_tokens=set(), callback_urls={f"{base}/admin/crm/connected"})
    connections = app.state.crm_integration.connections
    connections.http = httpx.AsyncClient(transport=org.transport())  # the server's requests to Salesforce

    def login_host(route: Any) -> None:  # the browser's requests to Salesforce
        request = route.request
        answer = org.handle(httpx.Request(request.method, request.url, headers=request.headers))
        route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.content)

    context = browser.new_context(base_url=base)
    context.route("https://test.salesforce.com/**", login_host)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page)
        panel = page.locator('[data-crm="salesforce"]')
        panel.locator("#f-salesforce-instance_url").fill(INSTANCE_URL)
        panel.locator("#f-salesforce-environment").select_option("sandbox")
        panel.locator("#f-salesforce-client_id").fill(CLIENT_ID)
        panel.locator("#f-salesforce-client_secret").fill(CLIENT_SECRET)
        panel.get_by_role("button", name="Save Salesforce connection").click()
        assert "CRM connection saved" in page.inner_text("[role=status]")

        page.locator('[data-crm="salesforce"]').get_by_role("button", name="Connect", exact=True).click()
        page.wait_for_url("https://test.salesforce.com/services/oauth2/authorize?**")
        page.get_by_role("link", name="Allow").click()
        page.wait_for_url("**/admin/acme/crm?done=crm_connected")

        state = page.locator('[data-crm="salesforce"] [data-connection-state="connected"]').inner_text()
        assert "Connected as Integration User <integration@callbridge-test.example> since" in state
        page.screenshot(path=str(artifacts_dir / "crm-connected-salesforce.png"), full_page=True)
        page.locator('[data-crm="salesforce"]').get_by_role("button", name="Revoke").click()
        page.wait_for_url("**/admin/acme/crm?done=crm_revoked")
        assert org.revoked == ["5Aep861connected1"]
    finally:
        context.close()
