"""The agent's everyday tools in the console: keyboard shortcuts (shown on the buttons and listed in the
footer), the Recent tab with the agent's own last interactions, "Call back" on a voicemail, and the caller's
name from the screen pop's match on the interaction card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.console.console_support import TENANT, Site, new_agent, open_workspace, set_status
from tests.console.test_console_browser import (
    add_contact,
    connect_the_crm,
    incoming_call,
    start_customer_chat,
    tone_wav,
)
from tests.sso.sso_helpers import sign_in_to_crm

pytestmark = pytest.mark.browser


def test_shortcuts_recent_interactions_and_calling_back_a_voicemail(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "kit")
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page, console = open_workspace(context, site, agent)
        set_status(console, "available", "available")
        # the shortcuts are listed in the console and announced on their buttons
        console.click("#shortcuts summary")
        assert "Accept the first offer" in console.inner_text("#shortcuts")
        call_id = incoming_call(site, agent.phone, "+1 415 555 0177")
        offer = console.wait_for_selector(f".offer[data-interaction-id='{call_id}']")
        accept = offer.query_selector("button[data-action=accept]")
        assert accept.get_attribute("aria-keyshortcuts") == "Alt+Shift+A"
        assert accept.get_attribute("title") == "Accept (Alt+Shift+A)"
        page.screenshot(path=str(artifacts_dir / "offer-with-shortcuts.png"))
        console.click("#agent-name")  # the agent's focus is in the console, on nothing in particular
        page.keyboard.press("Alt+Shift+KeyA")
        card = console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=connected]")
        assert card.query_selector("button[data-action=hang-up]").get_attribute("aria-keyshortcuts") == "Alt+Shift+H"
        page.keyboard.press("Alt+Shift+KeyH")
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=wrap_up]")
        console.select_option(f"#disposition-{call_id}", "Resolved")
        console.fill(f"#notes-{call_id}", "Refund sent")
        page.keyboard.press("Alt+Shift+KeyC")  # from the notes box
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}']", state="detached")

        # Recent: the agent's own last interactions, with outcome and time
        console.click("#tab-recent")
        item = console.wait_for_selector(f"#recent-list li[data-interaction-id='{call_id}']")
        assert "Resolved" in item.inner_text()
        assert "+1 415 555 0177" in item.inner_text()
        page.screenshot(path=str(artifacts_dir / "recent-interactions.png"))

        # a voicemail's "Call back" dials the caller through the outbound call path
        with site.api() as api:
            response = api.post(
                "/api/v1/voicemails",
                data={"queue_id": agent.voicemail, "from_address": "+1 303 555 0142"},
                files={"audio": ("message.wav", tone_wav(), "audio/wav")},
                headers=site.pbx,
            )
        assert response.status_code == 201, response.text
        voicemail_id = response.json()["interaction_id"]
        console.wait_for_selector(f".offer[data-interaction-id='{voicemail_id}']")
        page.keyboard.press("Alt+Shift+KeyO")  # to the offer: Enter accepts it
        assert console.evaluate("document.activeElement.dataset.action") == "accept"
        page.keyboard.press("Enter")
        card = console.wait_for_selector(f".interaction[data-interaction-id='{voicemail_id}'][data-state=connected]")
        card.query_selector("button[data-action=call-back]").click()
        outbound = console.wait_for_selector(".interaction[data-channel=phone]:has-text('+1 303 555 0142')")
        page.screenshot(path=str(artifacts_dir / "voicemail-call-back.png"))
        outbound_id = outbound.get_attribute("data-interaction-id")
        with site.api() as api:
            found = api.get(f"/api/v1/tenants/{TENANT}/reports/interactions", params={"agent_id": agent.id}).json()
        dialled = [i for i in found["interactions"] if i["id"] == outbound_id]
        assert dialled, found
        assert dialled[0]["direction"] == "outbound"
    finally:
        context.close()


def test_the_callers_name_from_the_screen_pop_is_on_the_interaction_card(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "lee")
    add_contact(site, "Ada", "Lovelace", "+44 20 7946 0018")
    connect_the_crm(site)
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page, console = open_workspace(context, site, agent)
        set_status(console, "available", "available")
        call_id = incoming_call(site, agent.phone, "+442079460018")
        console.wait_for_selector(f"#console-app[data-last-pop='{call_id}']")
        console.click(f".offer[data-interaction-id='{call_id}'] button[data-action=accept]")
        card = console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=connected]")
        card.wait_for_selector(".who:text('Ada Lovelace (+442079460018)')")
        assert "Ada Lovelace" in (card.get_attribute("aria-label") or "")
        page.screenshot(path=str(artifacts_dir / "caller-name-on-card.png"))
    finally:
        context.close()
        with site.api() as api:
            api.put(f"/api/v1/tenants/{TENANT}/screen-pop", json={"enabled": False})


def test_the_wrap_up_offers_the_queues_dispositions_and_requires_one_when_the_queue_says_so(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "max")
    with site.api() as api:
        queue = api.get(f"/api/v1/tenants/{TENANT}/queues/{agent.phone}").json()
        change = {**queue, "dispositions": ["Sold", "Not interested"], "disposition_required": True}
        assert api.put(f"/api/v1/tenants/{TENANT}/queues/{agent.phone}", json=change).status_code == 200
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page, console = open_workspace(context, site, agent)
        set_status(console, "available", "available")
        call_id = incoming_call(site, agent.phone, "+1 415 555 0188")
        console.click(f".offer[data-interaction-id='{call_id}'] button[data-action=accept]")
        card = console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=connected]")
        card.query_selector("button[data-action=hang-up]").click()
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=wrap_up]")
        picker = f"#disposition-{call_id}"
        options = console.eval_on_selector(picker, "s => [...s.options].map(o => o.textContent)")
        assert options == ["Choose one…", "Sold", "Not interested"]
        assert console.inner_text(f"label[for='disposition-{call_id}']") == "Disposition (required)"
        console.fill(f"#notes-{call_id}", "Wants a quote")
        card.query_selector("button[data-action=complete]").click()
        console.wait_for_selector("#console-error:text('Choose a disposition: the Phone')")
        assert "requires one." in console.inner_text("#console-error")
        # in the agent's words: no field code in front
        assert console.inner_text("#console-error").startswith("Choose a disposition")
        assert console.get_attribute(picker, "aria-invalid") == "true"  # the picker says so, and has the focus
        assert console.evaluate("document.activeElement.name") == "disposition"
        page.screenshot(path=str(artifacts_dir / "required-disposition.png"))
        console.select_option(picker, "Sold")
        card.query_selector("button[data-action=complete]").click()
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}']", state="detached")
        with site.api() as api:
            found = api.get(f"/api/v1/tenants/{TENANT}/reports/interactions", params={"agent_id": agent.id}).json()[
                "interactions"
            ]
        assert [(i["id"], i["disposition"]) for i in found] == [(call_id, "Sold")]
    finally:
        context.close()


def test_a_supervisor_who_opens_the_wallboard_signed_out_signs_in_through_the_crm_and_lands_on_it(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    email = "sue@example.com"
    with site.api() as api:
        body = {"id": "sue", "email": email, "display_name": "Sue Supervisor", "roles": ["agent", "supervisor"]}
        assert api.post(f"/api/v1/tenants/{TENANT}/agents", json=body).status_code == 201
    site.crm.add_user(email, "Sue Supervisor")
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page = sign_in_to_crm(context, site.crm, email)
        answer = page.goto(f"{site.cb.base_url}/supervisor/wallboard?tenant={TENANT}")
        assert answer is not None
        assert answer.status == 200  # a page (the CRM's consent), never a JSON 401
        page.click("button[value=allow]")  # the first time: the app asks for permission
        page.wait_for_url(f"{site.cb.base_url}/supervisor/wallboard?tenant={TENANT}")
        page.wait_for_selector("#connection:text('Live')")
        page.screenshot(path=str(artifacts_dir / "wallboard-after-sso.png"))
    finally:
        context.close()


def test_quick_replies_and_notes_templates_of_the_tenant_in_a_chat_and_its_wrap_up(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "ned")
    texts = {
        "notes_templates": ["Customer asked about delivery.", "Escalated to billing."],
        "quick_replies": ["Thanks for waiting, I am looking into it now."],
    }
    with site.api() as api:
        assert api.put(f"/api/v1/tenants/{TENANT}/console-texts", json=texts).status_code == 200
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    customer = None
    try:
        page, console = open_workspace(context, site, agent)
        set_status(console, "available", "available")
        customer, widget = start_customer_chat(browser, site, agent.chat, "Ola Nordmann")
        offer = console.wait_for_selector(".offer[data-channel=chat]")
        chat_id = offer.get_attribute("data-interaction-id")
        offer.query_selector("button[data-action=accept]").click()
        card = f".interaction[data-interaction-id='{chat_id}']"
        console.wait_for_selector(f"{card}[data-state=connected]")
        console.select_option(f"#quick-reply-{chat_id}", label="Thanks for waiting, I am looking into it now.")
        assert console.input_value(f"#message-{chat_id}") == "Thanks for waiting, I am looking into it now."
        page.screenshot(path=str(artifacts_dir / "quick-reply.png"))
        console.press(f"#message-{chat_id}", "Enter")
        widget.locator("li.agent .text", has_text="Thanks for waiting").wait_for()
        console.click(f"{card} button[data-action=end-chat]")
        console.wait_for_selector(f"{card}[data-state=wrap_up]")
        console.fill(f"#notes-{chat_id}", "Parcel late.")
        console.select_option(f"#template-{chat_id}", label="Escalated to billing.")
        assert console.input_value(f"#notes-{chat_id}") == "Parcel late.\nEscalated to billing."
        console.wait_for_selector(f"{card} .wrap-saved:text('Notes saved')")
        page.screenshot(path=str(artifacts_dir / "notes-template.png"))
        console.click(f"{card} button[data-action=complete]")
        console.wait_for_selector(card, state="detached")
    finally:
        context.close()
        if customer is not None:
            customer.close()
        with site.api() as api:
            api.put(f"/api/v1/tenants/{TENANT}/console-texts", json={})
