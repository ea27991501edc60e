"""The voice numbers page in Chromium: a refused number (or menu key) shows its error next to the field; a saved one
is listed."""

from __future__ import annotations

import wave
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


def _wav(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\0\x10" * int(8000 * seconds))
    return path


def test_an_admin_sets_every_voice_setting_in_the_browser_and_sees_each_refusal_on_its_own_form(
    server: str, browser: Any, artifacts_dir: Path, tmp_path: Path
) -> None:
    token = httpx.post(
        f"{server}/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for queue in (
        {"id": "orders", "name": "Orders", "channel": "phone"},
        {"id": "inbox", "name": "Inbox", "channel": "voicemail"},
    ):
        response = httpx.post(f"{server}/api/v1/tenants/acme/queues", json=queue, headers=headers)
        assert response.status_code == 201, response.text
    agent = {"id": "ana", "email": "ana@acme.example", "display_name": "Ana", "queue_ids": ["orders"]}
    assert httpx.post(f"{server}/api/v1/tenants/acme/agents", json=agent, headers=headers).status_code == 201
    context = browser.new_context(base_url=server, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)

    def banner_of(form: str) -> str:
        return page.inner_text(f"[data-{form}-form] .notice.error")

    try:
        page.goto("/admin/acme/voice")
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/acme/voice")
        assert page.inner_text("[data-trunk-address]").startswith("none")
        page.screenshot(path=str(artifacts_dir / "voice-page.png"), full_page=True)

        # desk phone (the shared list-and-form macro): refused, then saved
        page.fill("[data-desk-phone-form] #f-agent_id", "ana")
        page.fill("#f-username", "acme-ana")
        page.fill("#f-password", "short")
        page.click("[data-desk-phone-form] button.primary")
        assert "Nothing was saved" in banner_of("desk-phone")
        assert page.locator("[data-number-form] .notice.error").count() == 0
        assert page.inner_text("[data-error-for=password]")
        page.screenshot(path=str(artifacts_dir / "voice-desk-phone-refused.png"), full_page=True)
        page.fill("#f-password", "a-long-desk-phone-secret")
        page.click("[data-desk-phone-form] button.primary")
        page.wait_for_selector('[data-desk-phone="ana"]')

        # queue recording and voicemail: refused (a wait without a voicemail queue), then saved
        page.select_option("#f-recording", "on")
        page.fill("#f-max_wait_seconds", "90")
        page.click("[data-queue-form] button.primary")
        assert "voicemail queue" in page.inner_text("[data-error-for=max_wait_seconds]")
        assert "Nothing was saved" in banner_of("queue")
        page.screenshot(path=str(artifacts_dir / "voice-queue-refused.png"), full_page=True)
        page.select_option("#f-voicemail_queue_id", "inbox")
        page.click("[data-queue-form] button.primary")
        page.wait_for_selector("text=Queue voice settings saved")
        row = page.inner_text('[data-queue-voice="orders"]')
        assert "90 s" in row
        assert "inbox" in row
        assert page.input_value("#f-max_wait_seconds") == "90"  # the form shows the saved values again

        # recording retention
        page.fill("#f-days", "0")
        page.click("[data-retention-form] button.primary")
        assert page.inner_text("[data-error-for=days]")
        assert "Nothing was saved" in banner_of("retention")
        page.screenshot(path=str(artifacts_dir / "voice-retention-refused.png"), full_page=True)
        page.fill("#f-days", "30")
        page.click("[data-retention-form] button.primary")
        page.wait_for_selector("text=Recording retention saved")
        assert page.input_value("#f-days") == "30"

        # hold music: not audio, then a WAV, then back to the default
        (tmp_path / "notes.txt").write_text("not music")
        page.set_input_files("#f-audio", str(tmp_path / "notes.txt"))
        page.click("[data-hold-music-form] button.primary")
        assert "WAV (PCM) or MP3" in page.inner_text("[data-error-for=audio]")
        assert "Nothing was saved" in banner_of("hold-music")
        page.screenshot(path=str(artifacts_dir / "voice-hold-music-refused.png"), full_page=True)
        page.set_input_files("#f-audio", str(_wav(tmp_path / "music.wav", 2.0)))
        page.click("[data-hold-music-form] button.primary")
        page.wait_for_selector("text=Hold music uploaded")
        assert "own music" in page.inner_text("[data-hold-music]")
        page.screenshot(path=str(artifacts_dir / "voice-saved-all.png"), full_page=True)
        page.click("[data-hold-music-form] button[value=default]")
        page.wait_for_selector("text=Hold music back to the default")
        assert page.get_attribute("[data-hold-music]", "data-hold-music") == "default"

        audit = httpx.get(f"{server}/api/v1/tenants/acme/audit-log", headers=headers).json()
        actions = {entry["action"] for entry in audit}
        assert {"voice_queue.updated", "voice_recording_retention.updated", "voice_hold_music.uploaded"} <= actions
        assert "voice_hold_music.reset" in actions
    finally:
        context.close()
