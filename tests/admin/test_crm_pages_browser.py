"""The CRM connection and screen-pop pages in Debian's chromium, against a real built-in CRM: bad input shows
the error next to the field, good input is saved, and the test search shows the record that would pop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.crm.crm_helpers import Crm, access_token_for
from tests.crm_integration.conftest import INTEGRATION_USER, crm, crm_ids  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_an_admin_connects_the_crm_and_sets_up_screen_pop(
    server: str,
    browser: Any,
    crm: Crm,  # noqa: F811
    crm_ids: Any,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    refresh_token = access_token_for(crm, INTEGRATION_USER, scope="openid email crm.read crm.write offline_access")[
        "refresh_token"
    ]
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto("/admin/acme/crm")
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/acme/crm")

        # the built-in CRM: a wrong URL, then everything right
        crm_form = page.locator('[data-crm="builtin_crm"]')
        crm_form.locator("#f-builtin_crm-base_url").fill("ftp://crm.example")
        crm_form.get_by_role("button", name="Save Built-in CRM connection").click()
        assert "https://" in page.locator('[data-error-for="config.base_url"]').inner_text()
        crm_form = page.locator('[data-crm="builtin_crm"]')
        crm_form.locator("#f-builtin_crm-base_url").fill(crm.base_url)
        crm_form.locator("#f-builtin_crm-client_id").fill(crm.client_id)
        crm_form.locator("#f-builtin_crm-client_secret").fill(crm.client_secret)
        crm_form.locator("#f-builtin_crm-refresh_token").fill(refresh_token)
        crm_form.get_by_role("button", name="Save Built-in CRM connection").click()
        assert "CRM connection saved" in page.inner_text("[role=status]")
        page.locator('[data-crm="builtin_crm"]').get_by_role("button", name="Test connection").click()
        assert "Connected" in page.inner_text('[data-problem="ok"]')

        # Salesforce: environment choices are there; an http URL is refused next to its field
        sf = page.locator('[data-crm="salesforce"]')
        assert sf.locator("#f-salesforce-environment option").count() == 3
        sf.locator("#f-salesforce-instance_url").fill("http://acme.my.salesforce.com")
        sf.get_by_role("button", name="Save Salesforce connection").click()
        assert "https://" in page.locator('[data-error-for="config.instance_url"]').inner_text()

        # screen pop: a bad time-out, then good settings, then the test search
        page.click("nav.admin-nav >> text=Screen pop")
        page.check("#f-enabled-on")
        page.fill("#f-search_timeout_ms", "5")
        page.get_by_role("button", name="Save", exact=True).click()
        assert "greater than or equal to 20" in page.locator('[data-error-for="search_timeout_ms"]').inner_text()
        page.fill("#f-search_timeout_ms", "2000")
        page.check("#f-triggers-accepted")
        page.fill("#f-window-width", "800")
        page.check("#f-window-reuse-same")
        page.check("#f-auto_log-phone-on")
        page.get_by_role("button", name="Save", exact=True).click()
        assert "Screen-pop settings saved" in page.inner_text("[role=status]")
        assert page.locator("#f-window-reuse-same").is_checked()
        page.fill("#f-sample_phone", "(415) 555-0100")
        page.get_by_role("button", name="Test", exact=True).click()
        assert "Grace Hopper" in page.inner_text('[data-test-result="record"]')
        page.screenshot(path=str(artifacts_dir / "screen-pop-test.png"), full_page=True)

        page.click("nav.admin-nav >> text=Audit log")
        actions = page.locator("tr[data-action]").evaluate_all("rows => rows.map(r => r.dataset.action)")
        assert actions[:3] == ["auto_log_settings.updated", "screen_pop.updated", "crm_connection.created"]
        assert refresh_token not in page.content()
    finally:
        context.close()
