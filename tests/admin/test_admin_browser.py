"""The admin pages in Debian's chromium: each page with bad input (the error appears next to the field)
and good input (saved, and in the audit log)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.conftest import running_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("admin-browser"), ADMIN_EMAIL, ADMIN_PASSWORD) as base:
        yield base


def press(page: Any, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


def error_next_to(page: Any, field: str) -> str:
    text: str = page.locator(f'[data-error-for="{field}"]').first.inner_text()
    return text


def test_an_admin_sets_up_a_tenant_through_every_page(server: str, browser: Any, artifacts_dir: Path) -> None:
    context = browser.new_context(base_url=server, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        # sign in: a wrong password is refused, the right one goes to the page asked for
        page.goto("/admin/")
        assert "/admin/login" in page.url
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", "not it")
        page.click("button[type=submit]")
        assert "Wrong e-mail or password" in error_next_to(page, "form")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/")

        # a tenant
        page.fill("#f-id", "bad id!")
        page.fill("#f-name", "Acme")
        press(page, "Create tenant")
        assert "Letters, digits" in page.content()
        assert error_next_to(page, "id")
        page.fill("#f-id", "acme")
        page.fill("#f-time_zone", "Europe/Paris")
        press(page, "Create tenant")
        page.wait_for_url("**/admin/acme/?done=tenant_created")

        # tenant settings: an origin with a path is refused, an origin is kept
        page.fill("#f-allowed_origins", "https://acme.lightning.force.com\nhttps://acme.my.salesforce.com/home")
        press(page, "Save")
        assert "must be an origin" in error_next_to(page, "allowed_origins")
        page.fill("#f-allowed_origins", "https://acme.lightning.force.com")
        press(page, "Save")
        assert "Tenant settings saved" in page.inner_text("[role=status]")

        # skills and queues
        page.click("nav.admin-nav >> text=Queues & skills")
        page.fill("#f-name", "Billing")
        press(page, "Create skill")
        assert "lower-case" in error_next_to(page, "name")
        page.fill("#f-name", "billing")
        press(page, "Create skill")
        assert page.locator('[data-skill="billing"]').count() == 1
        page.get_by_role("link", name="New queue").click()
        page.screenshot(path=str(artifacts_dir / "queue-new.png"), full_page=True)
        page.fill("#f-id", "sales")
        page.fill("#f-name", "Sales")
        page.fill("#f-offer_timeout_seconds", "2")
        page.fill("#f-skill-billing", "3")
        press(page, "Create queue")
        assert "greater than or equal to 5" in error_next_to(page, "offer_timeout_seconds")
        page.fill("#f-offer_timeout_seconds", "25")
        page.fill("#f-wrap_up_seconds", "45")
        press(page, "Create queue")
        assert "25 s" in page.inner_text('[data-queue="sales"]')

        # agents: a bad e-mail, then two agents sharing an e-mail are flagged; disable one
        for agent_id, email in (("ann", "ann@acme.example"), ("ann2", "ANN@acme.example")):
            page.click("nav.admin-nav >> text=Agents")
            page.get_by_role("link", name="New agent").click()
            page.fill("#f-id", agent_id)
            page.fill("#f-email", "ann at acme")
            page.fill("#f-display_name", "Ann")
            page.check("#f-queue_ids-sales")
            page.fill("#f-skill-billing", "4")
            press(page, "Create agent")
            assert "e-mail address" in error_next_to(page, "email")
            page.fill("#f-email", email)
            page.uncheck("#f-auto_login-on")
            press(page, "Create agent")
            page.wait_for_url("**/agents?done=agent_created")
        assert "ann, ann2" in page.inner_text("[data-shared-emails]")
        assert "shared e-mail" in page.inner_text('[data-agent="ann"]')
        page.locator('[data-agent="ann2"] >> text=Disable').click()
        assert "disabled" in page.inner_text('[data-agent="ann2"]')

        # API keys: the secret is shown once
        page.click("nav.admin-nav >> text=API keys")
        press(page, "Create key")
        assert "at least 1 character" in error_next_to(page, "name")
        page.fill("#f-name", "Asterisk PBX")
        press(page, "Create key")
        secret = page.inner_text("[data-secret]")
        assert secret.startswith("cbk_")
        page.goto("/admin/acme/api-keys")
        assert secret not in page.content()
        page.locator('[data-key="Asterisk PBX"] >> text=Revoke').click()
        assert "revoked" in page.inner_text("[role=status]")

        # the call-center file
        page.click("nav.admin-nav >> text=Call center")
        page.fill("#f-adapter_url", "http://callbridge.example.com/console")
        press(page, "Download XML")
        assert "https://" in error_next_to(page, "adapter_url")
        page.fill("#f-adapter_url", "https://callbridge.example.com/console")
        page.check("#f-sandbox-on")
        page.fill("#f-softphone_height", "640")
        with page.expect_download() as download:
            press(page, "Download XML")
        xml = Path(download.value.path()).read_text()
        assert "https://callbridge.example.com/console?tenant=acme&amp;sandbox=true" in xml
        assert ">640<" in xml

        # the audit log shows it all, newest first, filtered by what changed
        page.click("nav.admin-nav >> text=Audit log")
        actions = page.locator("tr[data-action]").evaluate_all("rows => rows.map(r => r.dataset.action)")
        assert actions[:3] == ["api_key.revoked", "api_key.created", "agent.updated"]
        assert {"tenant.created", "tenant.updated", "skill.created", "queue.created", "agent.created"} <= set(actions)
        assert secret not in page.content()
        page.select_option("#f-target_type", "queue")
        press(page, "Filter")
        assert page.locator("tr[data-action]").count() == 1
        assert "Europe/Paris" in page.content()
        page.fill("#f-since", "2001-01-01")
        page.fill("#f-until", "2000-01-01")
        press(page, "Filter")
        assert "on or after" in error_next_to(page, "until")
        page.screenshot(path=str(artifacts_dir / "audit.png"), full_page=True)
    finally:
        context.close()
