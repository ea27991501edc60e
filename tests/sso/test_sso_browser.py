"""End to end in Debian's chromium: a CRM page on one site frames the console on another; the console signs
in through a pop-up (the provider refuses framing), the agent consents the first time, and the frame ends up
signed in, on break, with its session cookie partitioned under the CRM's site.

Against the built-in CRM and against panva's `oidc-provider` (a provider this project did not write)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sso_helpers import (
    Callbridge,
    Crm,
    console_frame,
    node_available,
    setup_tenant,
    sign_in_to_crm,
    start_callbridge,
    start_crm,
    start_oidc_provider,
)
from tests.conftest import missing_service, until_closed

pytestmark = pytest.mark.browser
SECRET = "s3cret-for-tests"


class HostPage:
    """A stand-in CRM page on http://localhost:<port> that frames the console, as any CRM would."""

    def __init__(self, console_url: str) -> None:
        body = f'<!doctype html><title>CRM</title><iframe id="softphone" src="{console_url}"></iframe>'.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Callbridge, Crm]]:
    cb = start_callbridge(tmp_path_factory.mktemp("callbridge"))
    crm = start_crm(tmp_path_factory.mktemp("crm"), cb.base_url, "/console?tenant=acme")
    setup_tenant(
        cb,
        "acme",
        [{"id": "abe", "email": "abe@example.com"}, {"id": "bea", "email": "bea@example.com", "auto_login": False}],
        [crm.base_url],
        {"kind": "builtin_crm", "issuer": crm.base_url, "client_id": crm.client_id, "client_secret": crm.client_secret},
    )
    yield cb, crm
    crm.server.stop()
    cb.stop()


def signed_in_frame(page: Any, cb: Callbridge) -> Any:
    for _ in range(100):  # the frame reloads once the pop-up has handed the sign-in over
        frame = console_frame(page, cb)
        try:
            frame.wait_for_selector("#agent-status[data-status=break]", timeout=200)
            return frame
        except Exception:  # noqa: BLE001 - reloading: look for the new frame
            continue
    raise AssertionError("the console never showed the agent signed in")


def provider_pages(popup: Any) -> list[str]:
    """The provider's pages that the person saw in the pop-up (HTML answers, not redirects)."""
    seen: list[str] = []
    popup.on(
        "response",
        lambda r: seen.append(r.url) if r.status == 200 and "text/html" in r.headers.get("content-type", "") else None,
    )
    return seen


def test_builtin_crm_console_frame_signs_in_through_a_popup_with_consent_once(
    browser: Any, site: tuple[Callbridge, Crm], artifacts_dir: Path
) -> None:
    cb, crm = site
    context = browser.new_context()
    try:
        crm_page = sign_in_to_crm(context, crm, "abe@example.com")
        with context.expect_page() as opened:  # auto login: the console opens the pop-up by itself
            crm_page.goto(f"{crm.base_url}/console")
        popup = opened.value
        popup.wait_for_selector("text=Allow")  # the first time, the CRM asks for consent
        popup.click("button[value=allow]")
        until_closed(popup)
        frame = signed_in_frame(crm_page, cb)
        assert "Abe" in frame.inner_text("#agent-name")
        frame.wait_for_selector("#live-state[data-state=connected]")  # WebSocket with a ticket from the session
        crm_page.screenshot(path=str(artifacts_dir / "signed-in.png"))

        crm_page.reload()  # the session survives in the cross-site frame (partitioned cookie)
        frame = signed_in_frame(crm_page, cb)
        cookies = [c for c in context.cookies(cb.base_url) if c["name"] == "callbridge_session"]
        assert cookies
        assert cookies[0]["httpOnly"]

        frame.click("#sign-out")
        frame = console_frame(crm_page, cb)
        frame.wait_for_selector("#sign-in")
        with context.expect_page() as opened:
            frame.click("#sign-in")
        popup = opened.value
        seen = provider_pages(popup)
        until_closed(popup)  # the second time: no consent, no page to click
        frame = signed_in_frame(crm_page, cb)
        assert not [url for url in seen if url.startswith(crm.base_url)], seen
    finally:
        context.close()


def test_auto_login_off_shows_a_link(browser: Any, site: tuple[Callbridge, Crm]) -> None:
    cb, crm = site
    context = browser.new_context()
    try:
        crm_page = sign_in_to_crm(context, crm, "bea@example.com")
        with context.expect_page() as opened:  # nothing is known about the agent yet: default on
            crm_page.goto(f"{crm.base_url}/console")
        popup = opened.value
        popup.click("button[value=allow]")
        until_closed(popup)
        frame = signed_in_frame(crm_page, cb)
        frame.wait_for_selector("#sign-out:enabled")  # enabled by the console once its handler is attached
        frame.click("#sign-out")
        console_frame(crm_page, cb).wait_for_selector("#sign-in")

        context.clear_cookies(name="callbridge_signed_out")  # what holds back auto login is her preference alone
        later = context.new_page()  # the CRM opened again: Bea's preference (off) is remembered
        later.goto(f"{crm.base_url}/console")
        frame = console_frame(later, cb)
        frame.wait_for_selector("#sign-in")
        later.wait_for_timeout(700)
        assert len(context.pages) == 2, "no pop-up opened by itself"
        assert "Sign in with" in frame.inner_text("#sign-in")
    finally:
        context.close()


@pytest.fixture(scope="module")
def third_party(
    tmp_path_factory: pytest.TempPathFactory, site: tuple[Callbridge, Crm]
) -> Iterator[tuple[Callbridge, HostPage]]:
    if not node_available():
        missing_service("The oidc-provider npm package", "run scripts/setup (npm ci) with Node.js installed")
    cb, _crm = site
    provider = start_oidc_provider(
        tmp_path_factory.mktemp("oidc-provider"),
        clients=[
            {
                "client_id": "callbridge",
                "client_secret": "s3cret-for-tests",
                "redirect_uris": [f"{cb.base_url}/sso/callback"],
            }
        ],
        accounts={"alice": {"email": "alice@globex.example", "email_verified": True, "name": "Alice"}},
    )
    host = HostPage(f"{cb.base_url}/console?tenant=globex")
    setup_tenant(
        cb,
        "globex",
        [{"id": "alice", "email": "Alice@Globex.example"}],
        [host.url.rstrip("/")],
        {"kind": "oidc", "issuer": provider.issuer, "client_id": "callbridge", "client_secret": SECRET},
    )
    yield cb, host
    host.stop()
    provider.stop()


def test_a_third_party_oidc_provider_signs_the_framed_console_in(
    browser: Any, third_party: tuple[Callbridge, HostPage]
) -> None:
    cb, host = third_party
    context = browser.new_context()
    try:
        page = context.new_page()
        with context.expect_page() as opened:
            page.goto(host.url)
        popup = opened.value
        popup.fill("input[name=login]", "alice")
        popup.fill("input[name=password]", "any")
        popup.click("button[type=submit]")
        popup.click("button[type=submit]")  # oidc-provider's consent page: "Continue"
        until_closed(popup)
        frame = signed_in_frame(page, cb)
        assert "Alice" in frame.inner_text("#agent-name")

        frame.click("#sign-out")
        frame = console_frame(page, cb)
        frame.wait_for_selector("#sign-in")
        with context.expect_page() as opened:
            frame.click("#sign-in")
        popup = opened.value
        seen = provider_pages(popup)
        until_closed(popup)
        signed_in_frame(page, cb)
        assert not [url for url in seen if "/interaction/" in url], seen
    finally:
        context.close()
