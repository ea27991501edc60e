"""The voice numbers page in Chromium: a refused number (or menu key) shows its error next to the field; a saved one
is listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_an_admin_adds_and_removes_a_number_in_the_browser(server: str, browser: Any, artifacts_dir: Path) -> None:
    token = httpx.post(
        f"{server}/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ).json()["token"]
    queue = {"id": "sales", "name": "Sales", "channel": "phone"}
    response = httpx.post(
        f"{server}/api/v1/tenants/acme/queues", json=queue, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.text
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto("/admin/acme/voice")
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/acme/voice")
        assert "Voice is off" in page.inner_text("[data-voice-off]")
        page.fill("#f-number", "4155550100")
        page.fill("#f-queue_id", "sales")
        page.click("[data-number-form] button.primary")
        assert "E.164" in page.inner_text("[data-error-for=number]")
        page.screenshot(path=str(artifacts_dir / "voice-error.png"), full_page=True)
        page.fill("#f-number", "+14155550100")
        page.click("[data-number-form] button.primary")
        page.wait_for_selector('[data-number="+14155550100"]')
        page.screenshot(path=str(artifacts_dir / "voice-saved.png"), full_page=True)
        # a menu for it: a key naming no queue is refused next to that key; then saved and listed
        page.fill("#f-menu_number", "+14155550100")
        page.fill("#f-key_1", "sales")
        page.fill("#f-key_2", "nowhere")
        page.click("[data-menu-form] button.primary")
        assert "does not exist" in page.inner_text("[data-error-for=key_2]")
        page.screenshot(path=str(artifacts_dir / "voice-menu-error.png"), full_page=True)
        page.fill("#f-key_2", "")
        page.click("[data-menu-form] button.primary")
        assert "1 → sales" in page.inner_text('[data-menu-of="+14155550100"]')
        page.screenshot(path=str(artifacts_dir / "voice-menu-saved.png"), full_page=True)
        page.click('[data-number="+14155550100"] button[value=remove]')
        page.wait_for_selector('[data-number="+14155550100"]', state="detached")
    finally:
        context.close()
