"""The console's browser softphone, for real: Chromium (fake microphone playing a tone) registers over SIP over
WebSocket to the Kamailio Callbridge runs, a baresip caller (its own tone, recording what it hears) calls the
trunk number, the console rings, the agent accepts there, and each side hears the other's tone; Hang up in the
console ends the interaction and the caller's call.

What the caller heard is read from its recording (Goertzel, tests/voice/audio.py); what the browser heard is
measured in the page (tests/voice/browser.py).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.conftest import ARTIFACTS
from tests.voice.audio import dominant_tones, first_run
from tests.voice.browser import BROWSER_TONE, ConsolePage, WebPhoneSite, console
from tests.voice.conftest import CALLER_TONE, WEBPHONE_NUMBER, WEBPHONE_TENANT, Baresip, wait_for
from tests.voice.test_calls import HOLD_MUSIC

pytestmark = pytest.mark.browser

TENANT = WEBPHONE_TENANT
NUMBER = WEBPHONE_NUMBER


def test_the_console_softphone_rings_answers_hears_and_hangs_up(site: WebPhoneSite, chromium: Any) -> None:
    started = time.perf_counter()
    with console(site, chromium, "agent1") as phone:
        registered = time.perf_counter() - started
        credentials = site.client.get("/api/v1/me/softphone", headers=phone.agent).json()
        assert credentials["available"] is True, credentials
        assert credentials["ws_url"].startswith("ws://127.0.0.1:")
        assert credentials["username"].endswith(credentials["aor"].split(":")[1].split("@")[0])
        run_call(site, phone, registered)


def run_call(site: WebPhoneSite, phone: ConsolePage, registered: float) -> None:
    client, page, phone_state, agent = site.client, phone.page, phone.phone_state, phone.agent
    response = client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    assert response.status_code == 200, response.text

    caller = Baresip(site.workdir / "caller", CALLER_TONE, "<sip:+14155550123@127.0.0.1>;regint=0")
    try:
        caller.start()
        caller.command("dial", f"sip:{NUMBER}@127.0.0.1:{site.sip_port}")
        offered = wait_for(
            lambda: (found := site.interaction()) and found["state"] == "offered" and found, "the call to be offered"
        )
        wait_for(lambda: phone_state.get_attribute("data-ringing") == offered["id"], "the softphone to ring")
        page.locator(f'li.offer[data-interaction-id="{offered["id"]}"] button[data-action=accept]').click()
        accepted = time.perf_counter()
        wait_for(lambda: phone_state.get_attribute("data-call") == "Established", "the softphone to answer")
        answered = time.perf_counter() - accepted
        wait_for(lambda: (site.interaction() or {}).get("state") == "connected", "the call to be connected")

        def caller_heard_the_browser() -> bool:
            heard = caller.heard()
            if heard is None or heard.stat().st_size < 4000:
                return False
            return first_run(dominant_tones(heard, {"browser": (BROWSER_TONE,)}), "browser", 5) is not None

        wait_for(caller_heard_the_browser, "the caller to hear the browser's tone")
        heard_after = time.perf_counter() - accepted

        heard = phone.wait_to_hear(CALLER_TONE, "the browser to hear the caller's tone")
        stats = phone.stats()
        assert stats["codec"].lower() == "audio/opus", stats
        assert stats["dtls"] == "connected", stats
        assert stats["packets"] > 0, stats
        print(
            f"\nregistered in {registered:.2f} s; Accept → call established {answered:.2f} s, → caller hears the"
            f" browser {heard_after:.2f} s; browser heard {heard['peak_hz']:.0f} Hz at {heard['peak_db']:.0f} dB;"
            f" inbound RTP {stats}"
        )

        # Mute: the caller hears the browser no more (silence), then again after Unmute
        def caller_labels() -> list[str]:
            heard = caller.heard()
            return dominant_tones(heard, {"browser": (BROWSER_TONE,)}) if heard is not None else []

        page.locator("details.dial-pad summary").click()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "softphone-call.png"), full_page=True)  # to look at, not compared
        mute = page.locator("button[data-action=mute]")
        mute.click()
        assert mute.get_attribute("aria-pressed") == "true"
        muted_at = len(caller_labels())
        wait_for(lambda: "." * 10 in "".join(x or "." for x in caller_labels()[muted_at:]), "a second of silence")
        mute.click()
        assert mute.text_content() == "Mute"
        unmuted_at = len(caller_labels())
        wait_for(lambda: first_run(caller_labels()[unmuted_at:], "browser", 5) is not None, "the browser again")

        # Hold: the caller hears the hold music instead of the browser, then the browser again on Resume
        def caller_hears(since: int) -> list[str]:
            heard = caller.heard()
            tones = {"browser": (BROWSER_TONE,), "music": HOLD_MUSIC}
            return dominant_tones(heard, tones)[since:] if heard is not None else []

        page.locator("button[data-action=hold]").click()
        held_at = len(caller_labels())
        wait_for(lambda: first_run(caller_hears(held_at), "music", 5) is not None, "the caller to hear hold music")
        page.locator("button[data-action=resume]").click()
        resumed_at = len(caller_labels())
        wait_for(lambda: first_run(caller_hears(resumed_at), "browser", 5) is not None, "the browser after Resume")

        # the dial pad sends RFC 4733 digits, which the caller's phone reports
        page.locator('button[data-digit="5"]').click()
        dtmf = wait_for(lambda: caller.saw("CALL_DTMF_START"), "the caller's phone to receive the digit")
        assert dtmf.get("param") == "5", dtmf

        page.locator("button[data-action=hang-up]").click()
        wait_for(lambda: caller.saw("CALL_CLOSED"), "the caller's call to end")
        wait_for(
            lambda: (site.interaction() or {}).get("state") in (None, "wrap_up", "completed"), "the interaction to end"
        )
        wait_for(lambda: not mute.is_visible(), "the call controls to go when the call ends")
    finally:
        caller.stop()


CUSTOMER = "+14155550188"


def test_click_to_dial_rings_the_agents_browser_then_the_customer_and_both_hear(
    site: WebPhoneSite, chromium: Any
) -> None:
    with console(site, chromium, "agent2") as phone:
        dial_out(site, phone)


def dial_out(site: WebPhoneSite, phone: ConsolePage) -> None:
    client, admin, agent, phone_state = site.client, site.harness.admin, phone.agent, phone.phone_state
    customer = Baresip(
        site.workdir / "customer",
        CALLER_TONE,
        f"<sip:{CUSTOMER}@127.0.0.1:{site.trunk_port}>;regint=0;answermode=auto",
        sip_port=site.trunk_port,
    )
    try:
        customer.start()
        started = time.perf_counter()
        placed = client.post("/api/v1/me/calls", json={"to_address": CUSTOMER}, headers=agent)
        assert placed.status_code == 201, placed.text
        call = placed.json()
        # the agent's own dial: the console answers its browser's INVITE without an Accept click
        wait_for(lambda: phone_state.get_attribute("data-call") == "Established", "the browser to answer")
        answered = wait_for(lambda: customer.saw("CALL_ESTABLISHED"), "the customer to answer")
        assert NUMBER in str(answered.get("peeruri", "")), answered  # the tenant's number as caller id

        def customer_heard_the_browser() -> bool:
            heard = customer.heard()
            if heard is None or heard.stat().st_size < 4000:
                return False
            return first_run(dominant_tones(heard, {"browser": (BROWSER_TONE,)}), "browser", 5) is not None

        wait_for(customer_heard_the_browser, "the customer to hear the browser's tone")
        heard_after = time.perf_counter() - started

        heard = phone.wait_to_hear(CALLER_TONE, "the browser to hear the customer's tone")
        stats = phone.stats()
        assert stats["codec"].lower() == "audio/opus", stats
        assert stats["dtls"] == "connected", stats
        print(
            f"\nclick to dial → customer hears the browser {heard_after:.2f} s; browser heard"
            f" {heard['peak_hz']:.0f} Hz at {heard['peak_db']:.0f} dB; inbound RTP {stats}"
        )
        customer.command("hangup")
        wait_for(lambda: phone_state.get_attribute("data-call") == "Terminated", "the browser's call to end")

        def interaction_ended() -> bool:
            snapshot = site.client.get(f"/api/v1/tenants/{TENANT}/snapshot", headers=admin).json()
            return snapshot["interactions"].get(call["id"], {}).get("state") in (None, "wrap_up", "completed")

        wait_for(interaction_ended, "the interaction to end")
    finally:
        customer.stop()
