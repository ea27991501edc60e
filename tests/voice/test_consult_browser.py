"""Warm transfer when agents' phones are their browsers: a baresip caller (its own tone, recording what it hears),
agent1 and agent2 each in their own console (Chromium, each microphone its own tone). What each side hears is
checked at every step: the caller from its recording, each browser in the page (tests/voice/browser.py).

The same module's Callbridge as the softphone's tests (`site`), with its tenant's agent1 and agent2.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.conftest import ARTIFACTS
from tests.voice.browser import BROWSER_TONE, ConsolePage, WebPhoneSite, console
from tests.voice.conftest import AGENT_TONE, CALLER_TONE, WEBPHONE_NUMBER, WEBPHONE_TENANT, Baresip, wait_for
from tests.voice.test_calls import HOLD_MUSIC, labels_of, runs

pytestmark = pytest.mark.browser

SECOND_BROWSER_TONE = 1800.0
CALLER_HEARS = {"first": (BROWSER_TONE,), "second": (SECOND_BROWSER_TONE,), "desk": (AGENT_TONE,), "music": HOLD_MUSIC}


def caller_heard(caller: Baresip) -> list[str]:
    return runs(labels_of(caller.heard(), CALLER_HEARS))


def live(site: WebPhoneSite, state: str) -> dict[str, Any] | None:
    response = site.client.get(f"/api/v1/tenants/{WEBPHONE_TENANT}/snapshot", headers=site.harness.admin)
    found = [i for i in response.json()["interactions"].values() if i["state"] == state]
    return found[0] if found else None


def available(site: WebPhoneSite, agent: dict[str, str]) -> None:
    response = site.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    assert response.status_code == 200, response.text


def consult_in_console(agent: ConsolePage, interaction_id: str, colleague: str) -> None:
    card = agent.page.locator(f'[data-interaction-id="{interaction_id}"]')
    picker = card.locator("select[name=transfer-target]")
    option = picker.locator(f'option[value="agent:{colleague}"]')

    def listed() -> bool:  # the picker lists the colleagues available now, as this console last heard
        picker.blur()
        picker.focus()
        return option.count() > 0

    wait_for(listed, f"{colleague} to be listed as available")
    picker.select_option(f"agent:{colleague}")
    card.locator("button[data-action=consult]").click()


def answer_consult(colleague: ConsolePage, interaction_id: str) -> Any:
    panel = colleague.page.locator("#consult-call")
    wait_for(lambda: panel.get_attribute("data-interaction-id") == interaction_id, "the consult to ring the colleague")
    assert "Agent 1 is consulting you about a call from +14155550123" in (panel.text_content() or "")
    ARTIFACTS.mkdir(exist_ok=True)
    colleague.page.screenshot(path=str(ARTIFACTS / "softphone-consult-ringing.png"), full_page=True)  # to look at
    panel.locator("button[data-action=consult-answer]").click()
    wait_for(lambda: panel.get_attribute("data-state") == "talking", "the colleague's console to show the consult")
    return panel


def test_a_browser_agent_consults_a_browser_colleague_cancels_then_completes(
    site: WebPhoneSite, chromium: Any, browsers: Any
) -> None:
    second_browser = browsers(SECOND_BROWSER_TONE)
    caller = Baresip(site.workdir / "consulted-caller", CALLER_TONE, "<sip:+14155550123@127.0.0.1>;regint=0")
    with console(site, chromium, "agent1") as first, console(site, second_browser, "agent2") as second:
        try:
            available(site, first.agent)
            caller.start()
            caller.command("dial", f"sip:{WEBPHONE_NUMBER}@127.0.0.1:{site.sip_port}")
            offered = wait_for(lambda: live(site, "offered"), "the call to be offered to agent1")
            call_id = offered["id"]
            first.page.locator(f'li.offer[data-interaction-id="{call_id}"] button[data-action=accept]').click()
            wait_for(lambda: caller_heard(caller)[-1:] == ["first"], "the caller to hear agent1")
            first.wait_to_hear(CALLER_TONE, "agent1 to hear the caller")
            available(site, second.agent)

            # consult: the caller holds; agent1 and agent2 hear each other
            consult_in_console(first, call_id, "agent2")
            wait_for(lambda: caller_heard(caller)[-2:] == ["first", "music"], "the caller to hear the hold music")
            panel = answer_consult(second, call_id)
            second.page.screenshot(path=str(ARTIFACTS / "softphone-consulted.png"), full_page=True)  # to look at
            first.wait_to_hear(SECOND_BROWSER_TONE, "agent1 to hear agent2")
            second.wait_to_hear(BROWSER_TONE, "agent2 to hear agent1")
            note = first.page.locator(f'[data-interaction-id="{call_id}"] .consult-note')
            assert note.text_content() == "Consulting Agent 2; the caller hears hold music."
            first.page.screenshot(path=str(ARTIFACTS / "softphone-consulting.png"), full_page=True)

            # cancel: agent1 and the caller hear each other again (agent1's browser on a new call); agent2's ends
            cancelled_at = time.perf_counter()
            first.page.locator("button[data-action=consult-cancel]").click()
            wait_for(lambda: panel.is_hidden(), "the consult to end in agent2's console")
            wait_for(
                lambda: caller_heard(caller)[-3:] == ["first", "music", "first"], "the caller to hear agent1 again"
            )
            first.wait_to_hear(CALLER_TONE, "agent1 to hear the caller again")
            back = time.perf_counter() - cancelled_at
            print(f"\nCancel consult → caller and agent1 hear each other again: {back:.2f} s")
            assert (live(site, "connected") or {}).get("agent_id") == "agent1"
            assert first.phone_state.get_attribute("data-call") == "Established"

            # consult again, then complete: the caller and agent2 hear each other; agent1's call ends
            consult_in_console(first, call_id, "agent2")
            answer_consult(second, call_id)
            first.wait_to_hear(SECOND_BROWSER_TONE, "agent1 to hear agent2 in the second consult")
            first.page.locator("button[data-action=consult-complete]").click()
            wait_for(lambda: caller_heard(caller)[-1:] == ["second"], "the caller to hear agent2")
            second.wait_to_hear(CALLER_TONE, "agent2 to hear the caller")
            wait_for(lambda: first.phone_state.get_attribute("data-call") == "Terminated", "agent1's call to end")
            connected = live(site, "connected")
            assert (connected or {}).get("agent_id") == "agent2", connected
            stats = second.stats()
            assert (stats["codec"].lower(), stats["dtls"]) == ("audio/opus", "connected"), stats
            wait_for(lambda: panel.is_hidden(), "agent2's consult panel to give way to the call's card")
            second.page.screenshot(path=str(ARTIFACTS / "softphone-consult-completed.png"), full_page=True)
            second.page.locator(f'[data-interaction-id="{call_id}"] button[data-action=hang-up]').click()
            wait_for(lambda: caller.saw("CALL_CLOSED"), "the caller's call to end when agent2 hangs up")
        except Exception:
            print("\n".join([first.diagnosis(), second.diagnosis()]))
            raise
        finally:
            caller.stop()


def test_a_browser_colleague_declines_then_answers_a_desk_phone_consult_that_is_cancelled(
    site: WebPhoneSite, browsers: Any
) -> None:
    client, admin = site.client, site.harness.admin
    username = f"{WEBPHONE_TENANT}-agent1"
    response = client.put(
        f"/api/v1/tenants/{WEBPHONE_TENANT}/voice/desk-phones/agent1",
        json={"username": username, "password": "desk-phone-secret"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    desk = Baresip(
        site.workdir / "agent1-desk-phone",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{site.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;regint=600",
    )
    caller = Baresip(site.workdir / "caller-back", CALLER_TONE, "<sip:+14155550123@127.0.0.1>;regint=0")
    desk_hears = {"caller": (CALLER_TONE,), "second": (SECOND_BROWSER_TONE,)}
    with console(site, browsers(SECOND_BROWSER_TONE), "agent2") as second:
        try:
            desk.start()
            wait_for(lambda: site.registered(username), "agent1's desk phone to register")
            agent1 = site.agent("agent1", rings="desk")
            available(site, agent1)
            caller.start()
            caller.command("dial", f"sip:{WEBPHONE_NUMBER}@127.0.0.1:{site.sip_port}")
            wait_for(lambda: caller_heard(caller)[-1:] == ["desk"], "the caller to hear agent1's desk phone")
            call_id = (live(site, "connected") or {})["id"]
            available(site, second.agent)

            consult = f"/api/v1/me/interactions/{call_id}/consult"
            # agent2 declines: the caller is back with agent1
            started = client.post(consult, json={"target": "agent2"}, headers=agent1)
            assert started.status_code == 204, started.text
            wait_for(lambda: caller_heard(caller)[-2:] == ["desk", "music"], "the caller to hear the hold music")
            panel = second.page.locator("#consult-call")
            panel.locator("button[data-action=consult-decline]").click()
            wait_for(lambda: panel.is_hidden(), "the declined consult to leave agent2's console")
            wait_for(lambda: caller_heard(caller)[-3:] == ["desk", "music", "desk"], "the caller back with agent1")

            # agent2 answers, then agent1 cancels
            started = client.post(consult, json={"target": "agent2"}, headers=agent1)
            assert started.status_code == 204, started.text
            panel = answer_consult(second, call_id)
            second.wait_to_hear(AGENT_TONE, "agent2 to hear agent1's desk phone")
            wait_for(lambda: "second" in runs(labels_of(desk.heard(), desk_hears)), "agent1 to hear agent2")
            heard_before = len(labels_of(desk.heard(), desk_hears))

            cancelled = client.post(f"{consult}/cancel", headers=agent1)
            assert cancelled.status_code == 204, cancelled.text
            wait_for(lambda: panel.is_hidden(), "the consult to end in agent2's console")
            wait_for(
                lambda: caller_heard(caller)[-5:] == ["desk", "music", "desk", "music", "desk"],
                "the caller to hear agent1 again",
            )
            wait_for(
                lambda: runs(labels_of(desk.heard(), desk_hears)[heard_before:])[-1:] == ["caller"],
                "agent1 to hear the caller again",
            )
            assert (live(site, "connected") or {}).get("agent_id") == "agent1"
            caller.command("hangup")
            wait_for(lambda: desk.saw("CALL_CLOSED"), "agent1's desk phone to be hung up")
        except Exception:
            print(second.diagnosis())
            raise
        finally:
            caller.stop()
            desk.stop()
