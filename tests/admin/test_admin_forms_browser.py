"""Admin forms as they render in Debian's chromium: radio buttons sit beside their labels, and the single
sign-on page shows only the fields of the chosen provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def page(server: str, browser: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    opened.goto("/admin/login")
    opened.fill("#email", ADMIN_EMAIL)
    opened.fill("#password", ADMIN_PASSWORD)
    opened.click("button[type=submit]")
    opened.wait_for_url("**/admin/**")
    try:
        yield opened
    finally:
        context.close()


def test_radio_buttons_sit_beside_their_labels(page: Any, artifacts_dir: Path) -> None:
    page.goto("/admin/acme/screen-pop")
    radios = page.locator("[data-screen-pop-form] input[type=radio]")
    assert radios.count() == 4
    page.screenshot(path=str(artifacts_dir / "screen-pop-radios.png"), full_page=True)
    for n in range(radios.count()):
        radio = radios.nth(n)
        box = radio.bounding_box()
        label = page.locator(f"label[for={radio.get_attribute('id')}]").bounding_box()
        assert box["width"] < 30, f"radio {n} is {box['width']} px wide"
        assert label["x"] - (box["x"] + box["width"]) < 20, "its label follows the radio button"
        assert abs((label["y"] + label["height"] / 2) - (box["y"] + box["height"] / 2)) < 6, "on the same line"


def test_the_sso_page_shows_the_fields_of_the_chosen_provider(page: Any, artifacts_dir: Path) -> None:
    page.goto("/admin/acme/sso")
    assert page.input_value("#f-kind") == "builtin_crm"
    page.screenshot(path=str(artifacts_dir / "sso-builtin-crm.png"), full_page=True)
    salesforce_only = ["#f-login_host", "#f-sandbox_login_host", "[data-sandbox-launch-url]"]
    for selector in salesforce_only:
        assert not page.locator(selector).is_visible(), f"{selector} shows for the built-in CRM"
    assert page.locator("#f-issuer").is_visible()

    page.select_option("#f-kind", "salesforce")
    for selector in ["#f-login_host", "#f-sandbox_login_host"]:
        assert page.locator(selector).is_visible(), f"{selector} is missing for Salesforce"
    assert not page.locator("#f-issuer").is_visible(), "Salesforce has no issuer to enter"
    page.screenshot(path=str(artifacts_dir / "sso-salesforce.png"), full_page=True)

    page.select_option("#f-kind", "oidc")
    assert page.locator("#f-issuer").is_visible()
    assert page.locator("#f-discovery_url").is_visible()
    assert not page.locator("#f-login_host").is_visible()


def test_the_telephony_page_keeps_the_commands_the_pbx_follows(page: Any, server: str, artifacts_dir: Path) -> None:
    page.goto("/admin/acme/telephony")
    commands = page.locator("[data-commands] input[type=checkbox]")
    assert commands.count() == 6
    ticked = {commands.nth(n).get_attribute("name") for n in range(6) if commands.nth(n).is_checked()}
    assert ticked == {"command_hold", "command_resume"}, "hold and resume by default"
    page.fill("#f-webhook_url", "http://127.0.0.1:9/pbx/commands")
    page.fill("#f-signing_secret", "a-signing-secret-of-the-pbx")
    page.check("input[name=command_connect]")
    page.check("input[name=command_hang_up]")
    page.uncheck("input[name=command_resume]")
    page.click("[data-telephony-form] button.primary")
    assert "tick hold and resume together" in page.locator("[data-telephony-form]").inner_text()
    page.screenshot(path=str(artifacts_dir / "telephony-hold-without-resume.png"), full_page=True)
    page.fill("#f-signing_secret", "a-signing-secret-of-the-pbx")
    page.uncheck("input[name=command_hold]")
    page.click("[data-telephony-form] button.primary")
    page.wait_for_url("**/admin/acme/telephony**")
    assert "http://127.0.0.1:9/pbx/commands" in page.locator("[data-webhook-state]").inner_text()
    page.screenshot(path=str(artifacts_dir / "telephony-commands.png"), full_page=True)

    page.goto("/admin/acme/telephony")
    kept = {commands.nth(n).get_attribute("name") for n in range(6) if commands.nth(n).is_checked()}
    assert kept == {"command_connect", "command_hang_up"}
    token = httpx.post(
        f"{server}/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ).json()["token"]
    saved = httpx.get(
        f"{server}/api/v1/tenants/acme/telephony/settings", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert saved["commands"] == ["connect", "hang_up"]
    assert saved["has_signing_secret"] is True
