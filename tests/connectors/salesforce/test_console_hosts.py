"""The Lightning and Classic host modules in Debian's chromium, inside the Open CTI stand-in page.

The stand-in "Salesforce org" (salesforce_standin/opencti_standin.html and .js) is served from
http://localhost:<port>; Callbridge's static files and a harness page from http://127.0.0.1:<port>,
so the softphone frame is cross-origin to the org page, as it is in Salesforce.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "salesforce_standin"
STATIC = HERE.parents[2] / "src" / "callbridge" / "web" / "static"
TYPES = {".html": "text/html", ".js": "text/javascript"}


@dataclass
class Site:
    """A test-only HTTP server on port 0 that maps paths to files and records what was asked for."""

    host: str
    route: Any
    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                site.paths.append(path)
                file = site.route(path)
                if file is None or not file.is_file():
                    self.send_error(404)
                    return
                body = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", TYPES.get(file.suffix, "application/octet-stream"))
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def org_route(path: str) -> Path | None:
    if path == "/standin/org.html":
        return STANDIN / "opencti_standin.html"
    if path.startswith("/support/") and path.endswith((".js",)):
        return STANDIN / "opencti_standin.js"
    return None


def callbridge_route(path: str) -> Path | None:
    if path == "/harness.html":
        return HERE / "host_harness.html"
    if path.startswith("/console/") and ".." not in path:
        return STATIC / path.lstrip("/")
    return None


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[Site, Site]]:
    org = Site("localhost", org_route)
    callbridge = Site("127.0.0.1", callbridge_route)
    yield org, callbridge
    org.close()
    callbridge.close()


@dataclass
class Console:
    page: Any
    frame: Any
    org: Site

    def calls(self) -> list[dict[str, Any]]:
        return list(self.page.evaluate("window.calls"))

    def calls_once(self, count: int) -> list[dict[str, Any]]:
        """The recorded calls, once `count` have arrived (they cross frames by postMessage)."""
        self.page.wait_for_function("(n) => window.calls.length >= n", arg=count)
        return self.calls()

    def run(self, script: str) -> Any:
        return self.frame.evaluate(f"async () => {{ {script} }}")

    def fire(self, name: str, payload: object) -> None:
        self.page.evaluate("([n, p]) => window.fireEvent(n, p)", [name, payload])


def open_console(
    browser: Any,
    sites: tuple[Site, Site],
    host: str,
    *,
    allowed: list[str] | None = None,
    sfdc_origin: str | None = "",
    org_params: str = "",
) -> Iterator[Console]:
    org, callbridge = sites
    org.paths.clear()
    allowed = [org.origin] if allowed is None else allowed
    softphone = f"{callbridge.origin}/harness.html?host={host}&allowed={quote(json.dumps(allowed))}"
    if sfdc_origin is not None:
        softphone += f"&sfdcIframeOrigin={quote(sfdc_origin or org.origin)}"
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{org.origin}/standin/org.html?softphone={quote(softphone)}{org_params}")
        frame = page.wait_for_selector("#softphone").content_frame()
        assert frame is not None
        frame.wait_for_url("**/harness.html**")
        frame.wait_for_function("window.hostReady !== undefined", timeout=10000)
        yield Console(page, frame, org)
    finally:
        context.close()


@pytest.fixture
def lightning(browser: Any, sites: tuple[Site, Site]) -> Iterator[Console]:
    yield from open_console(browser, sites, "lightning")


WINDOW = "{width: 800, height: 600, reuse: true}"


def test_lightning_loads_opencti_from_the_org_and_reports_ready(lightning: Console) -> None:
    assert lightning.frame.evaluate("window.hostReady") == "ok"
    assert "/support/api/62.0/lightning/opencti_min.js" in lightning.org.paths
    assert lightning.calls() == [{"api": "opencti", "method": "notifyInitializationComplete", "args": {}}]
    assert lightning.frame.evaluate("[window.host.name, window.host.consoleMode]") == ["lightning", True]


def test_lightning_screen_pops(lightning: Console) -> None:
    lightning.run(
        f"""
        await window.host.screenPop({{kind: 'record', url: 'https://x/lightning/r/Contact/003A/view',
                                      objectType: 'Contact', recordId: '003A'}}, {WINDOW});
        await window.host.screenPop({{kind: 'search', url: '', query: '+14155551212'}}, {WINDOW});
        await window.host.screenPop({{kind: 'new_record', url: '', objectType: 'Contact',
                                      prefill: {{Phone: '+14155551212', LastName: 'Unknown'}}}}, {WINDOW});
        await window.host.screenPop({{kind: 'url', url: 'https://acme.my.salesforce.com/lightning/o/Case/home?x=1'}},
                                    {WINDOW});
        await window.host.screenPop({{kind: 'search', url: '', query: '12'}}, {WINDOW});
        await window.host.searchAndScreenPop('4155551212', 'outbound');
        """
    )
    assert lightning.calls()[1:] == [
        {"api": "opencti", "method": "screenPop", "args": {"type": "sobject", "params": {"recordId": "003A"}}},
        {
            "api": "opencti",
            "method": "screenPop",
            "args": {"type": "search", "params": {"searchString": "+14155551212"}},
        },
        {
            "api": "opencti",
            "method": "screenPop",
            "args": {
                "type": "newrecordmodal",
                "params": {"entityName": "Contact"},
                "defaultFieldValues": {"Phone": "+14155551212", "LastName": "Unknown"},
            },
        },
        {
            "api": "opencti",
            "method": "screenPop",
            "args": {"type": "url", "params": {"url": "/lightning/o/Case/home?x=1"}},
        },
        {"api": "opencti", "method": "searchAndScreenPop", "args": {"searchParams": "12", "callType": "inbound"}},
        {
            "api": "opencti",
            "method": "searchAndScreenPop",
            "args": {"searchParams": "4155551212", "callType": "outbound"},
        },
    ]


def test_lightning_click_to_dial_reaches_the_handler(lightning: Console) -> None:
    lightning.run("await window.host.enableClickToDial((request) => window.dialed.push(request));")
    assert lightning.calls()[1:] == [
        {"api": "opencti", "method": "onClickToDial", "args": {}},
        {"api": "opencti", "method": "enableClickToDial", "args": {}},
    ]
    payload = {"number": "(415) 555-1212", "recordId": "003A", "recordName": "Ada Lovelace", "objectType": "Contact"}
    lightning.fire("onClickToDial", payload)
    lightning.frame.wait_for_function("window.dialed.length === 1")
    assert lightning.frame.evaluate("window.dialed") == [payload]

    # A message forged by another origin (the softphone's own) is ignored: only the org may click.
    lightning.run(
        "window.postMessage({standin: 'opencti', kind: 'event', event: 'onClickToDial', payload: {number: '1'}}, '*');"
        "await new Promise((r) => setTimeout(r, 100));"
    )
    assert lightning.frame.evaluate("window.dialed.length") == 1

    lightning.run("await window.host.disableClickToDial();")
    assert lightning.calls()[-1] == {"api": "opencti", "method": "disableClickToDial", "args": {}}


def test_lightning_panel_visibility_and_navigation(lightning: Console) -> None:
    lightning.run(
        "await window.host.setPanelVisible(true); await window.host.setPanelVisible(false);"
        "window.host.onNavigationChange((page) => window.pages.push(page));"
    )
    # registering the listener waits for no answer: its record may still be crossing frames
    assert lightning.calls_once(4)[1:] == [
        {"api": "opencti", "method": "setSoftphonePanelVisibility", "args": {"visible": True}},
        {"api": "opencti", "method": "setSoftphonePanelVisibility", "args": {"visible": False}},
        {"api": "opencti", "method": "onNavigationChange", "args": {}},
    ]
    lightning.fire(
        "onNavigationChange", {"url": "https://x/lightning/r/Case/500A/view", "recordId": "500A", "objectType": "Case"}
    )
    lightning.frame.wait_for_function("window.pages.length === 1")
    assert lightning.frame.evaluate("window.pages") == [
        {"url": "https://x/lightning/r/Case/500A/view", "recordId": "500A", "objectType": "Case"}
    ]


def test_origin_from_referrer_when_salesforce_adds_no_parameter(browser: Any, sites: tuple[Site, Site]) -> None:
    for console in open_console(browser, sites, "lightning", sfdc_origin=None):
        assert console.frame.evaluate("window.hostReady") == "ok"
        assert console.frame.evaluate("window.host.origin()") == sites[0].origin


@pytest.mark.parametrize("host", ["lightning", "classic"])
def test_org_not_on_the_tenant_allow_list_is_refused(browser: Any, sites: tuple[Site, Site], host: str) -> None:
    for console in open_console(browser, sites, host, allowed=["https://other.my.salesforce.com"]):
        assert console.frame.evaluate("window.hostReady") == (
            f"error: {sites[0].origin} is not an allowed Salesforce origin for this tenant"
        )
        assert not [p for p in console.org.paths if p.startswith("/support/")]
        expected = []
        assert console.calls_once(len(expected)) == expected


def test_forged_sfdc_origin_parameter_is_refused(browser: Any, sites: tuple[Site, Site]) -> None:
    for console in open_console(browser, sites, "lightning", sfdc_origin="https://evil.example.com"):
        assert console.frame.evaluate("window.hostReady") == (
            "error: https://evil.example.com is not an allowed Salesforce origin for this tenant"
        )
        expected = []
        assert console.calls_once(len(expected)) == expected


def test_classic_non_console(browser: Any, sites: tuple[Site, Site]) -> None:
    for console in open_console(browser, sites, "classic", org_params="&classic=1"):
        assert console.frame.evaluate("window.hostReady") == "ok"
        assert "/support/api/62.0/interaction.js" in console.org.paths
        assert not [p for p in console.org.paths if p.startswith("/support/console/")]
        assert console.frame.evaluate("[window.host.name, window.host.consoleMode]") == ["classic", False]
        console.run(
            f"""
            await window.host.screenPop({{kind: 'record', url: '', objectType: 'Contact', recordId: '003A'}}, {WINDOW});
            await window.host.screenPop({{kind: 'search', url: '', query: '+14155551212'}}, {WINDOW});
            await window.host.screenPop({{kind: 'new_record', url: '', objectType: 'Contact', prefill: {{}}}},
                                        {WINDOW});
            await window.host.screenPop({{kind: 'url', url: 'https://acme.my.salesforce.com/apex/Page?a=1'}}, {WINDOW});
            await window.host.setPanelVisible(true);
            await window.host.enableClickToDial((request) => window.dialed.push(request));
            window.host.onNavigationChange((page) => window.pages.push(page));
            """
        )
        expected = [
            {"api": "interaction", "method": "isInConsole", "args": []},
            {"api": "interaction", "method": "cti.notifyInitializationComplete", "args": []},
            {"api": "interaction", "method": "screenPop", "args": ["/003A", True]},
            {"api": "interaction", "method": "searchAndScreenPop", "args": ["+14155551212", "", "inbound"]},
            {"api": "interaction", "method": "screenPop", "args": ["/003/e", True]},
            {"api": "interaction", "method": "screenPop", "args": ["/apex/Page?a=1", True]},
            {"api": "interaction", "method": "setVisible", "args": [True]},
            {"api": "interaction", "method": "cti.onClickToDial", "args": []},
            {"api": "interaction", "method": "cti.enableClickToDial", "args": []},
            {"api": "interaction", "method": "onFocus", "args": []},
        ]
        assert console.calls_once(len(expected)) == expected
        click = {"number": "4155551212", "objectId": "003A", "object": "Contact", "objectName": "Ada Lovelace"}
        console.fire("onClickToDial", {"result": json.dumps(click), "error": None})
        console.fire("onFocus", {"result": json.dumps({"url": "/500A", "objectId": "500A", "object": "Case"})})
        console.frame.wait_for_function("window.dialed.length === 1 && window.pages.length === 1")
        assert console.frame.evaluate("window.dialed") == [
            {"number": "4155551212", "recordId": "003A", "objectType": "Contact", "recordName": "Ada Lovelace"}
        ]
        assert console.frame.evaluate("window.pages") == [{"url": "/500A", "recordId": "500A", "objectType": "Case"}]


def test_classic_service_console_loads_the_console_toolkit(browser: Any, sites: tuple[Site, Site]) -> None:
    for console in open_console(browser, sites, "classic", org_params="&classic=1&console=1"):
        assert console.frame.evaluate("window.hostReady") == "ok"
        assert "/support/console/62.0/integration.js" in console.org.paths
        assert console.frame.evaluate("window.host.consoleMode") is True
        assert [c["method"] for c in console.calls()] == ["isInConsole", "loaded", "cti.notifyInitializationComplete"]
