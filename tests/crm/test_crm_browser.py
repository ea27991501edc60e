"""The CRM's pages in Debian's chromium: sign-in, the console workspace hosting a softphone from another
origin, screen pops, click to dial, and non-console pop-up windows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_stand_in import ConsoleStandIn
from crm_helpers import PASSWORD, Crm, start_crm
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from callbridge_crm.records import create_record

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def console() -> Iterator[ConsoleStandIn]:
    stand_in = ConsoleStandIn()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def crm_site(tmp_path_factory: pytest.TempPathFactory, console: ConsoleStandIn) -> Iterator[Crm]:
    # The CRM on localhost, the console on 127.0.0.1: two origins, as in production.
    crm = start_crm(tmp_path_factory.mktemp("crm-browser"), console_url=console.url(), public_host="localhost")
    console.crm_origin = crm.base_url
    engine = create_engine(crm.database_url)
    with Session(engine) as session:
        create_record(
            session, "contact", {"first_name": "Grace", "last_name": "Hopper", "phone": "(415) 555 0100"}, "US"
        )
        create_record(session, "contact", {"first_name": "Twin", "last_name": "One", "phone": "+1 212 555 0111"}, "US")
        create_record(session, "contact", {"first_name": "Twin", "last_name": "Two", "phone": "2125550111"}, "US")
        session.commit()
    engine.dispose()
    yield crm
    crm.server.stop()


@pytest.fixture
def page(browser: Any, crm_site: Crm, artifacts_dir: Path) -> Iterator[Any]:
    context = browser.new_context(base_url=crm_site.base_url, viewport={"width": 1400, "height": 900})
    signed_in = context.new_page()
    signed_in.goto("/login")
    signed_in.fill("input[name=email]", "abe@example.com")
    signed_in.fill("input[name=password]", PASSWORD)
    signed_in.click("button[type=submit]")
    signed_in.wait_for_url(f"{crm_site.base_url}/")
    yield signed_in
    signed_in.screenshot(path=str(artifacts_dir / "last.png"))
    context.close()


def softphone(page: Any, console: ConsoleStandIn) -> Any:
    page.wait_for_selector("body[data-cti-host=ready]")
    frame = page.frame(url=lambda url: url.startswith(f"http://127.0.0.1:{console.port}/"))
    assert frame is not None
    frame.wait_for_function("document.getElementById('status').textContent === 'ready'")
    return frame


def test_sign_in_shows_the_home_page(page: Any) -> None:
    assert "Abe Agent" in page.inner_text(".me")
    assert page.is_visible("#contact-center-link")


def test_console_workspace_hosts_the_softphone_from_another_origin(page: Any, console: ConsoleStandIn) -> None:
    page.goto("/console")
    frame = softphone(page, console)
    reply = frame.evaluate("cti('connect')")
    assert reply["result"]["mode"] == "console"
    assert reply["result"]["version"] == 1
    assert "screenPop" in reply["result"]["methods"]

    assert frame.evaluate("cti('getPageInfo')")["result"]["mode"] == "console"
    unknown = frame.evaluate("cti('doesNotExist')")
    assert unknown["error"]["code"] == "UNKNOWN_METHOD"
    newer = frame.evaluate("cti('connect', {}, 2)")
    assert newer["error"]["code"] == "UNSUPPORTED_VERSION"


def test_screen_pops_open_tabs(page: Any, console: ConsoleStandIn, artifacts_dir: Path) -> None:
    page.goto("/console")
    frame = softphone(page, console)
    found = frame.evaluate("cti('searchAndScreenPop', {phone: '+1 415-555-0100'})")["result"]
    assert found["popped"] == "record"
    assert [m["name"] for m in found["matches"]] == ["Grace Hopper"]
    page.wait_for_selector(".tab.active:has-text('Grace Hopper')")

    several = frame.evaluate("cti('searchAndScreenPop', {phone: '212-555-0111'})")["result"]
    assert several["popped"] == "search"
    page.wait_for_selector(".tab.active:has-text('Search')")

    none = frame.evaluate(
        "cti('searchAndScreenPop', {phone: '(650) 555-0199',"
        " defaults: {objectType: 'contact', fields: {name: 'Ada Byron'}}})"
    )["result"]
    assert none["popped"] == "newRecord"
    page.wait_for_selector(".tab.active:has-text('New contact')")
    new_form = page.frame(url=lambda url: "/new/contact" in url)
    assert new_form.input_value("input[name=phone]") == "(650) 555-0199"
    assert new_form.input_value("input[name=lastName]") == "Byron"

    frame.evaluate("cti('screenPop', {type: 'url', url: '/activities'})")
    page.wait_for_selector(".tab.active:has-text('Activities')")
    outside = frame.evaluate("cti('screenPop', {type: 'url', url: 'https://example.com/'})")
    assert outside["error"]["code"] == "INVALID_PARAMS"
    tabs_before = page.locator(".tab").count()
    frame.evaluate("cti('searchAndScreenPop', {phone: '4155550100'})")
    assert page.locator(".tab").count() == tabs_before  # an open record is brought to front, not opened twice
    page.screenshot(path=str(artifacts_dir / "console-workspace.png"))


def test_click_to_dial_sends_an_event_while_enabled(page: Any, console: ConsoleStandIn) -> None:
    page.goto("/console")
    frame = softphone(page, console)
    frame.evaluate("cti('searchAndScreenPop', {phone: '4155550100'})")
    page.wait_for_selector(".tab.active:has-text('Grace Hopper')")
    record = page.frame(url=lambda url: "/records/contact/" in url)
    record.wait_for_selector("a.phone")

    # Disabled (the default): the host leaves the tel: link to the system and tells the console nothing.
    assert record.get_attribute("body", "data-click-to-dial") == "disabled"

    assert frame.evaluate("cti('enableClickToDial')")["result"] == {"enabled": True}
    record.click("a.phone")
    frame.wait_for_function("events('clickToDial').length === 1")
    event = frame.evaluate("events('clickToDial')[0]")
    assert event["protocol"] == "callbridge-cti"
    assert event["params"]["number"] == "(415) 555 0100"
    assert event["params"]["objectType"] == "contact"
    assert event["params"]["recordName"] == "Grace Hopper"
    assert frame.evaluate("events('navigationChange').length") >= 1

    assert frame.evaluate("cti('disableClickToDial')")["result"] == {"enabled": False}
    assert record.get_attribute("body", "data-click-to-dial") == "disabled"
    assert frame.evaluate("events('clickToDial').length") == 1


def test_softphone_panel_visibility_and_size(page: Any, console: ConsoleStandIn) -> None:
    page.goto("/console")
    frame = softphone(page, console)
    assert frame.evaluate("cti('setSoftphonePanelSize', {width: 480})")["result"]["width"] == 480
    assert page.eval_on_selector("#softphone-panel", "e => e.getBoundingClientRect().width") == 480
    frame.evaluate("cti('setSoftphonePanelVisibility', {visible: false})")
    assert page.is_hidden("#softphone-panel")


def test_save_log_creates_one_activity_per_external_id(page: Any, console: ConsoleStandIn) -> None:
    page.goto("/console")
    frame = softphone(page, console)
    fields = "{subject: 'Call with Grace', type: 'call', direction: 'outbound', durationSeconds: 42}"
    first = frame.evaluate(f"cti('saveLog', {{externalId: 'browser-log-1', fields: {fields}}})")["result"]
    again = frame.evaluate(f"cti('saveLog', {{externalId: 'browser-log-1', fields: {fields}}})")["result"]
    assert first["created"] is True
    assert again["created"] is False
    assert again["id"] == first["id"]
    too_long = frame.evaluate(f"cti('saveLog', {{fields: {{...{fields}, comments: 'x'.repeat(4001)}}}})")
    assert too_long["error"]["code"] == "INVALID_PARAMS"
    assert "4000" in too_long["error"]["message"]


def test_host_ignores_messages_from_other_origins(page: Any, console: ConsoleStandIn) -> None:
    page.goto("/console")
    frame = softphone(page, console)
    tabs_before = page.locator(".tab").count()
    # A CRM tab (the CRM's own origin, not the console's) posting a request: the host must not act.
    home_tab = page.frame(url=lambda url: url.endswith("/?embedded=1"))
    home_tab.evaluate(
        """() => window.parent.postMessage({protocol: 'callbridge-cti', version: 1, id: 'x', method: 'screenPop',
            params: {type: 'url', url: '/activities'}}, window.location.origin)"""
    )
    page.wait_for_timeout(300)
    assert page.locator(".tab").count() == tabs_before
    assert frame.evaluate("received.filter(m => m.replyTo === 'x')") == []


def test_non_console_mode_opens_the_console_and_pops_windows(
    page: Any, console: ConsoleStandIn, crm_site: Crm, artifacts_dir: Path
) -> None:
    page.wait_for_selector("body[data-cti-host=ready]")
    with page.expect_popup() as opened:
        page.click("#contact-center-link")
    console_window = opened.value
    console_window.wait_for_function("document.getElementById('status').textContent === 'ready'")
    assert console_window.url.startswith(f"http://127.0.0.1:{console.port}/console")
    assert console_window.evaluate("cti('connect')")["result"]["mode"] == "nonConsole"
    assert console_window.evaluate("cti('setSoftphonePanelVisibility', {visible: false})")["error"]["code"] == (
        "UNSUPPORTED_IN_MODE"
    )

    with page.context.expect_page() as popped:
        reply = console_window.evaluate(
            "cti('searchAndScreenPop', {phone: '4155550100', window: {target: 'newWindow', width: 900, height: 700}})"
        )
    assert reply["result"]["popped"] == "record"
    record_window = popped.value
    record_window.wait_for_load_state()
    assert "Grace Hopper" in record_window.title()
    record_window.screenshot(path=str(artifacts_dir / "non-console-pop.png"))

    with page.context.expect_page() as reused:
        console_window.evaluate("cti('screenPop', {type: 'search', query: 'Twin', window: {target: 'reuseWindow'}})")
    pop_window = reused.value
    pages_now = len(page.context.pages)
    console_window.evaluate("cti('screenPop', {type: 'url', url: '/activities', window: {target: 'reuseWindow'}})")
    pop_window.wait_for_url(f"{crm_site.base_url}/activities")
    assert len(page.context.pages) == pages_now  # the same pop-up window was refreshed

    console_window.evaluate(
        "cti('screenPop', {type: 'record', objectType: 'contact', recordId: 1, window: {target: 'currentWindow'}})"
    )
    page.wait_for_url(f"{crm_site.base_url}/records/contact/1")

    # Click to dial from a plain page reaches the console window.
    assert console_window.evaluate("cti('enableClickToDial')")["result"]["enabled"] is True
    page.wait_for_selector("body.click-to-dial-on")
    page.click("a.phone")
    console_window.wait_for_function("events('clickToDial').length === 1")
    assert console_window.evaluate("events('clickToDial')[0].params.number") == "(415) 555 0100"


def test_non_console_host_ignores_a_window_from_another_origin(page: Any, console: ConsoleStandIn) -> None:
    page.wait_for_selector("body[data-cti-host=ready]")
    # The stand-in served as http://localhost:<port> is not the configured console origin (127.0.0.1).
    impostor_url = console.url("localhost")
    with page.expect_popup() as opened:
        page.evaluate(f"window.open({impostor_url!r}, 'impostor')")
    impostor = opened.value
    impostor.wait_for_load_state()
    impostor.evaluate(
        """() => window.opener.postMessage({protocol: 'callbridge-cti', version: 1, id: 'evil', method: 'screenPop',
            params: {type: 'url', url: '/activities', window: {target: 'currentWindow'}}}, '*')"""
    )
    page.wait_for_timeout(400)
    assert page.url.endswith("/")
