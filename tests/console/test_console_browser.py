"""The agent console in Debian's chromium, docked in the built-in CRM's console workspace (console mode)
and in a window of its own (non-console mode), with the customer's side in other browser contexts."""

from __future__ import annotations

import io
import math
import re
import struct
import uuid
import wave
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from callbridge_crm import admin as crm_admin
from callbridge_crm.records import create_record
from tests.channels.test_hold import SECRET as PBX_SECRET
from tests.channels.test_hold import PbxStandIn
from tests.console.console_support import TENANT, Site, eventually, new_agent, open_workspace, set_status
from tests.crm.crm_helpers import REDIRECT_URI, access_token_for
from tests.crm.crm_helpers import Crm as HelperCrm

pytestmark = pytest.mark.browser


def tone_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return buffer.getvalue()


def incoming_call(site: Site, queue_id: str, caller: str) -> str:
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    body = {
        "event_id": f"{call_id}-in",
        "type": "call.incoming",
        "call_id": call_id,
        "from_address": caller,
        "queue_id": queue_id,
    }
    with site.api() as api:
        response = api.post("/api/v1/telephony/events", json=body, headers=site.pbx)
    assert response.status_code in (200, 201), response.text
    return call_id


def test_an_inbound_call_and_a_voicemail_are_offered_handled_and_wrapped_up(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "bea")
    pbx = PbxStandIn()
    settings = f"/api/v1/tenants/{TENANT}/telephony/settings"
    with site.api() as api:
        body = {"webhook_url": pbx.url, "signing_secret": PBX_SECRET}
        assert api.put(settings, json=body).status_code == 200
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page, console = open_workspace(context, site, agent)
        console.wait_for_selector("#agent-status[data-status=break]")
        assert "just signed in" in console.inner_text("#agent-status-reason")
        set_status(console, "available", "available")
        assert console.inner_text("#status-time").startswith("0:0")

        call_id = incoming_call(site, agent.phone, "+1 415 555 0100")
        offer = console.wait_for_selector(f".offer[data-interaction-id='{call_id}']")
        assert "+1 415 555 0100" in offer.inner_text()
        assert "Phone" in offer.inner_text()  # the queue's name
        assert "New offer: Call from +1 415 555 0100" in console.inner_text("#offer-announcer")
        offer.evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")
        page.screenshot(path=str(artifacts_dir / "console-mode-offer.png"))
        offer.query_selector("button[data-action=accept]").click()
        card = console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=connected]")
        console.wait_for_selector("#agent-status[data-status=busy]")
        assert console.query_selector(".offer") is None
        # hold from the keyboard, then resume: each is a signed command to the PBX stand-in
        hold = card.wait_for_selector("button[data-action=hold][aria-disabled=false]")
        hold.focus()
        page.keyboard.press("Enter")
        card.wait_for_selector(".hold-status:text('On hold')")
        card.wait_for_selector("button[data-action=resume]").click()
        card.wait_for_selector("button[data-action=hold]")
        assert card.query_selector(".hold-status").is_hidden()
        assert [(c["command"], c["call_id"]) for c in pbx.commands] == [("hold", call_id), ("resume", call_id)]
        card.query_selector("button[data-action=hang-up]").click()
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=wrap_up]")
        console.select_option(f"#disposition-{call_id}", "Resolved")
        console.fill(f"#notes-{call_id}", "Asked about the invoice")
        console.click(f".interaction[data-interaction-id='{call_id}'] button[data-action=complete]")
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}']", state="detached")
        console.wait_for_selector("#agent-status[data-status=available]")

        with site.api() as api:
            response = api.post(
                "/api/v1/voicemails",
                data={"queue_id": agent.voicemail, "from_address": "+1 303 555 0142"},
                files={"audio": ("message.wav", tone_wav(), "audio/wav")},
                headers=site.pbx,
            )
        assert response.status_code == 201, response.text
        voicemail_id = response.json()["interaction_id"]
        console.click(f".offer[data-interaction-id='{voicemail_id}'] button[data-action=accept]")
        card = console.wait_for_selector(f".interaction[data-interaction-id='{voicemail_id}'][data-state=connected]")
        card.wait_for_selector(".duration:text('0:01')")
        audio = card.query_selector("audio")
        eventually(lambda: audio.evaluate("a => a.readyState >= 1 && a.duration > 0.9"))
        page.screenshot(path=str(artifacts_dir / "console-mode-voicemail.png"))
        card.query_selector("button[data-action=done]").click()
        console.wait_for_selector(f".interaction[data-interaction-id='{voicemail_id}'][data-state=wrap_up]")
        console.click(f".interaction[data-interaction-id='{voicemail_id}'] button[data-action=complete]")
        console.wait_for_selector(f".interaction[data-interaction-id='{voicemail_id}']", state="detached")

        # a break with a reason, shown with the time in status
        set_status(console, "break:Lunch", "break")
        assert "Lunch" in console.inner_text("#agent-status-reason")
        # queue status: one call waits in the agent's queue while they are on break
        incoming_call(site, agent.phone, "+1 212 555 0199")
        console.wait_for_selector(f"tr[data-queue-id='{agent.phone}'] .waiting-count:text('1')")
        page.screenshot(path=str(artifacts_dir / "console-mode.png"))
    finally:
        context.close()
        with site.api() as api:
            api.put(settings, json={"webhook_url": None})
        pbx.close()


def start_customer_chat(browser: Any, site: Site, queue_id: str, name: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site.cb.base_url}/chat/demo?tenant=acme&queue={queue_id}")
    page.locator("button.launcher").click()
    page.locator("#cb-name").fill(name)
    page.locator("#cb-email").fill(f"{name.split()[0].lower()}@example.com")
    page.get_by_role("button", name="Start chat").click()
    page.locator(".status", has_text="Waiting for an agent").wait_for()
    return context, page


def test_customers_chat_through_the_widget_while_the_agent_accepts_replies_and_wraps_up(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "abe")
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    customers: list[Any] = []
    try:
        page, console = open_workspace(context, site, agent)
        set_status(console, "available", "available")
        first, ada = start_customer_chat(browser, site, agent.chat, "Ada Lovelace")
        customers.append(first)
        offer = console.wait_for_selector(".offer[data-channel=chat]")
        assert "Ada Lovelace" in offer.inner_text()
        chat_id = offer.get_attribute("data-interaction-id")
        offer.query_selector("button[data-action=accept]").click()
        card = f".interaction[data-interaction-id='{chat_id}']"
        console.wait_for_selector(f"{card}[data-state=connected]")
        ada.locator(".status", has_text="You are chatting with").wait_for()

        ada.locator("textarea").fill("My order has not arrived <b>yet</b>")
        console.wait_for_selector(f"{card} .typing:text('Customer is typing')")
        ada.keyboard.press("Enter")
        console.wait_for_selector(f"{card} .message.customer .text:text('My order has not arrived <b>yet</b>')")
        assert console.query_selector(f"{card} .transcript b") is None  # text stays text
        ada.locator("li.customer .meta", has_text="Delivered").wait_for()  # the console acknowledged it

        # a second chat at the same time, side by side
        second, bob = start_customer_chat(browser, site, agent.chat, "Bob Byte")
        customers.append(second)
        offer = console.wait_for_selector(".offer[data-channel=chat]")
        other_id = offer.get_attribute("data-interaction-id")
        offer.query_selector("button[data-action=accept]").click()
        console.wait_for_selector(f".interaction[data-interaction-id='{other_id}'][data-state=connected]")
        assert console.eval_on_selector("#interaction-list", "e => e.children.length") == 2

        console.fill(f"#message-{chat_id}", "Sorry to hear that, Ada. Let me look.")
        console.press(f"#message-{chat_id}", "Enter")
        ada.locator("li.agent .text", has_text="Sorry to hear that, Ada").wait_for()
        console.fill(f"#message-{other_id}", "Hello Bob!")
        console.click(f".interaction[data-interaction-id='{other_id}'] button[data-action=send]")
        bob.locator("li.agent .text", has_text="Hello Bob!").wait_for()
        assert ada.locator("li.agent .text", has_text="Hello Bob!").count() == 0
        page.screenshot(path=str(artifacts_dir / "console-mode-two-chats.png"))

        console.click(f"{card} button[data-action=end-chat]")
        console.wait_for_selector(f"{card}[data-state=wrap_up]")
        console.select_option(f"#disposition-{chat_id}", "Information given")
        console.fill(f"#notes-{chat_id}", "Parcel is on its way")
        console.click(f"{card} button[data-action=complete]")
        console.wait_for_selector(card, state="detached")
        with site.api() as api:
            log = api.get(f"/api/v1/tenants/acme/chats/{chat_id}/messages").json()
        assert [m["sender"] for m in log["messages"]] == ["customer", "agent"]
    finally:
        for customer in customers:
            customer.close()
        context.close()


def test_the_console_survives_a_network_cut_without_a_stale_offer(browser: Any, site: Site) -> None:
    agent = new_agent(site, "cy")
    context = browser.new_context(viewport={"width": 320, "height": 600})
    try:
        _, console = open_workspace(context, site, agent)
        set_status(console, "available", "available")
        call_id = incoming_call(site, agent.phone, "+1 650 555 0123")
        console.wait_for_selector(f".offer[data-interaction-id='{call_id}']")

        context.set_offline(True)
        console.wait_for_selector("#live-state[data-state=offline]")
        assert console.is_visible("#offline-banner")
        assert console.query_selector(".offer") is None  # nothing offered can be trusted while offline
        # meanwhile the caller hangs up: the offer is gone on the server
        with site.api() as api:
            body = {"event_id": f"{call_id}-gone", "type": "call.abandoned", "call_id": call_id}
            assert api.post("/api/v1/telephony/events", json=body, headers=site.pbx).status_code == 200

        context.set_offline(False)
        console.wait_for_selector("#live-state[data-state=connected]")  # by itself: new ticket, new snapshot
        assert not console.is_visible("#offline-banner")
        assert console.query_selector(".offer") is None
        console.wait_for_selector("#agent-status[data-status=available]")
        # and it is live again: the next call is offered
        next_call = incoming_call(site, agent.phone, "+1 650 555 0124")
        console.wait_for_selector(f".offer[data-interaction-id='{next_call}']")
    finally:
        context.close()


def add_contact(site: Site, first: str, last: str, phone: str) -> int:
    engine = create_engine(site.crm.database_url)
    with Session(engine) as session:
        contact = create_record(session, "contact", {"first_name": first, "last_name": last, "phone": phone}, "US")
        session.commit()
        contact_id = int(contact.id)
    engine.dispose()
    return contact_id


def test_messages_recorded_in_the_browser_and_the_console_in_its_own_window_with_click_to_dial(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "di")
    contact_id = add_contact(site, "Grace", "Hopper", "(415) 555 0100")
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page, console = open_workspace(context, site, agent)
        console.click("#tab-greetings")
        console.wait_for_selector("#greeting-list .empty")
        console.click("#greeting-record")  # Chromium's fake microphone
        console.wait_for_selector("#greeting-record-state:text('Recording… 1 s')")
        console.click("#greeting-record")
        console.wait_for_selector("#greeting-draft:not([hidden])")
        console.fill("#greeting-name", "Welcome")
        console.click("#greeting-draft button[type=submit]")
        item = console.wait_for_selector(".greeting:has(.greeting-name:text('Welcome'))")
        length = item.query_selector(".greeting-duration")
        assert length is not None, "a greeting says how long it plays"
        assert re.fullmatch(r"0:0[1-9]", length.inner_text()), length.inner_text()
        item.query_selector("button[data-action=play]").click()
        audio = item.wait_for_selector("audio")
        eventually(lambda: audio.evaluate("a => a.readyState >= 1"))
        item.query_selector("button[data-action=rename]").click()
        console.fill(".greeting .rename input", "Good morning")
        console.click(".greeting .rename button[type=submit]")
        console.wait_for_selector(".greeting-name:text('Good morning')")
        page.screenshot(path=str(artifacts_dir / "console-mode-messages.png"))

        # non-console mode: the CRM's "Contact Center" link opens the console in a window of its own
        home = context.new_page()
        home.goto(f"{site.crm.base_url}/")
        with context.expect_page() as opened:
            home.click("#contact-center-link")
        own = opened.value
        own.set_viewport_size({"width": 900, "height": 700})
        own.wait_for_selector("#live-state[data-state=connected]")  # signed in at the top level by itself
        own.wait_for_selector("#crm-host[data-host=builtin][data-mode=non-console][data-click-to-dial=on]")
        own.click("#tab-greetings")
        own.wait_for_selector(".greeting-name:text('Good morning')")
        set_status(own, "working_offline", "working_offline")
        own.screenshot(path=str(artifacts_dir / "non-console-mode.png"))

        # click to dial from a CRM record: the console places the call, linked to the record
        home.goto(f"{site.crm.base_url}/records/contact/{contact_id}")
        home.click("a.phone")
        card = own.wait_for_selector(".interaction[data-channel=phone][data-state=connected]")
        assert "Grace Hopper ((415) 555 0100)" in card.inner_text()  # the clicked record's name
        assert "Outbound call" in card.inner_text()
        own.screenshot(path=str(artifacts_dir / "non-console-mode-call.png"))
        card.query_selector("button[data-action=hang-up]").click()
        own.click(".interaction[data-channel=phone] button[data-action=complete]")
        own.wait_for_selector(".interaction[data-channel=phone]", state="detached")

        own.click(".greeting button[data-action=delete]")
        own.click(".greeting button[data-action=delete]:text('Confirm delete')")
        own.wait_for_selector("#greeting-list .empty")
    finally:
        context.close()


def connect_the_crm(site: Site) -> None:
    """What an admin does once: the built-in CRM connection (an integration user's refresh token), and
    screen pops on offer."""
    client = crm_admin.register_client(site.crm.database_url, name="Callbridge connector", redirect_uris=[REDIRECT_URI])
    assert client.client_secret is not None
    as_client = HelperCrm(site.crm.server, site.crm.database_url, client.client_id, client.client_secret, "")
    token = access_token_for(as_client, "abe@example.com", scope="openid email crm.read crm.write offline_access")
    body = {
        "config": {"base_url": site.crm.base_url},
        "credentials": {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": token["refresh_token"],
        },
    }
    with site.api() as api:
        response = api.put("/api/v1/tenants/acme/crm-connections/builtin_crm", json=body)
        assert response.status_code == 200, response.text
        response = api.put("/api/v1/tenants/acme/screen-pop", json={"enabled": True, "triggers": ["offered"]})
        assert response.status_code == 200, response.text


def test_a_screen_pop_opens_the_callers_record_as_a_tab_of_the_crm_workspace(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "eve")
    contact_id = add_contact(site, "Edsger", "Dijkstra", "+31 20 555 0101")
    connect_the_crm(site)
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page, console = open_workspace(context, site, agent)
        set_status(console, "available", "available")
        call_id = incoming_call(site, agent.phone, "+31205550101")
        console.wait_for_selector(f".offer[data-interaction-id='{call_id}']")
        # offered: the record opens in a background tab, the agent's page stays in front
        tab = page.wait_for_selector(".tab-strip .tab:has-text('Edsger Dijkstra')")
        console.wait_for_selector(f"#console-app[data-last-pop='{call_id}']")
        assert tab.get_attribute("aria-selected") == "false"
        assert page.locator("iframe.tab-panel.active").get_attribute("data-tab-id") == "home"
        page.screenshot(path=str(artifacts_dir / "console-mode-screen-pop-offered.png"))
        # an offer not taken: its tab is closed again
        console.click(f".offer[data-interaction-id='{call_id}'] button[data-action=reject]")
        console.wait_for_selector("#agent-status[data-status=break]")
        assert "missed an offer" in console.inner_text("#agent-status-reason")
        page.wait_for_selector(".tab-strip .tab:has-text('Edsger Dijkstra')", state="detached")
        # back to available, the call she missed is offered again: accepted, its tab comes to front
        set_status(console, "available", "available")
        console.wait_for_selector(f".offer[data-interaction-id='{call_id}']")
        page.wait_for_selector(".tab-strip .tab[aria-selected=false]:has-text('Edsger Dijkstra')")
        console.click(f".offer[data-interaction-id='{call_id}'] button[data-action=accept]")
        page.wait_for_selector(".tab-strip .tab[aria-selected=true]:has-text('Edsger Dijkstra')")
        page.wait_for_selector(f"iframe.tab-panel.active[src*='/records/contact/{contact_id}']")
        page.screenshot(path=str(artifacts_dir / "console-mode-screen-pop-accepted.png"))
    finally:
        context.close()
        with site.api() as api:
            api.put("/api/v1/tenants/acme/screen-pop", json={"enabled": False})


def test_in_its_own_window_the_console_opens_an_offers_pop_only_when_the_agent_accepts(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "ned")
    contact_id = add_contact(site, "Barbara", "Liskov", "+1 617 555 0142")
    connect_the_crm(site)
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        workspace, _docked = open_workspace(context, site, agent)  # signs in to the CRM and the console
        home = context.new_page()
        home.goto(f"{site.crm.base_url}/")
        workspace.close()
        with context.expect_page() as opened:
            home.click("#contact-center-link")
        own = opened.value
        own.wait_for_selector("#crm-host[data-host=builtin][data-mode=non-console]")
        set_status(own, "available", "available")
        pages_before = len(context.pages)

        call_id = incoming_call(site, agent.phone, "+16175550142")
        own.wait_for_selector(f".offer[data-interaction-id='{call_id}']")
        own.wait_for_selector(f"#console-app[data-last-pop='{call_id}']")  # the pop arrived, and is held
        assert len(context.pages) == pages_before  # no window steals the agent's focus for an offer
        own.click(f".offer[data-interaction-id='{call_id}'] button[data-action=reject]")
        own.wait_for_selector("#agent-status[data-status=break]")
        assert len(context.pages) == pages_before  # an offer not taken opens nothing

        set_status(own, "available", "available")
        own.wait_for_selector(f".offer[data-interaction-id='{call_id}']")
        with context.expect_page() as popped:
            own.click(f".offer[data-interaction-id='{call_id}'] button[data-action=accept]")
        record = popped.value
        record.wait_for_load_state()
        assert f"/records/contact/{contact_id}" in record.url
        record.screenshot(path=str(artifacts_dir / "non-console-pop-on-accept.png"))
    finally:
        context.close()
        with site.api() as api:
            api.put("/api/v1/tenants/acme/screen-pop", json={"enabled": False})
