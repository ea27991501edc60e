"""Every response of both applications carries the security headers: `nosniff`, a referrer policy, and a CSP
`frame-ancestors` (`'none'` unless the page is meant to be framed). Each application's route table is walked,
every route and method, and whatever it answers (200, 401, 404, 422, 403 …) is checked.

The same walk, without a credential and with tiny rate limits, checks that every route either needs a credential
(401, or a redirect to the sign-in page) or is rate-limited per client address (429, `Retry-After`, a message,
and the headers), WebSockets included; only the few routes listed in `UNLIMITED` may be neither."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from flask import Flask
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from callbridge.web.app import create_app
from callbridge.web.deps import SESSION_COOKIE
from callbridge_crm import admin
from callbridge_crm.app import create_app as create_crm
from callbridge_crm.config import CrmSettings
from callbridge_crm.rate_limits import UNLIMITED as CRM_UNLIMITED
from callbridge_crm.security import attachment_headers
from tests.e2e.conftest import Harness, make_harness


def _concrete(path: str) -> str:
    path = re.sub(r"\{tenant_id\}", "t1", path)
    return re.sub(r"\{[^}]+\}", "nothing-here", path)


def _check(headers: dict[str, str], where: str, frame_ancestors: str = "'none'") -> None:
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") in ("strict-origin-when-cross-origin", "no-referrer"), where
    csp = headers.get("content-security-policy", "")
    found = re.search(r"frame-ancestors ([^;]+)", csp)
    assert found is not None, f"{where}: no frame-ancestors in {csp!r}"
    assert frame_ancestors in found.group(1), f"{where}: frame-ancestors {found.group(1)!r}"


CALLBRIDGE_ROUTES = sorted(
    {
        (method, route.path)
        for route in iter_route_contexts(create_app().routes)
        for method in (route.methods or ())
        if method != "HEAD"
    }
)


CALLBRIDGE_SOCKETS = sorted(
    context.path
    for context in iter_route_contexts(create_app().routes)
    if isinstance(context.original_route, APIWebSocketRoute)
)


def test_the_walk_covers_pages_api_documentation_and_the_newest_routes() -> None:
    paths = {path for _m, path in CALLBRIDGE_ROUTES}
    assert {"/docs", "/openapi.json", "/console", "/supervisor/wallboard", "/admin/{tenant_id}/agents"} <= paths
    newest = {
        "/api/v1/me/softphone",  # voice: the browser softphone
        "/api/v1/tenants/{tenant_id}/voice/numbers/{number}",
        "/admin/{tenant_id}/voice/desk-phones",
        "/api/v1/me/recordings/{interaction_id}/audio",  # recordings
        "/api/v1/me/interactions/{interaction_id}/transfer",  # transfers
        "/api/v1/me/interactions/{interaction_id}/consult/complete",
        "/api/v1/tenants/{tenant_id}/voice/numbers/{number}/menu",  # voice menus
        "/admin/{tenant_id}/voice/menus",
        "/readyz",  # the cluster's readiness (bus, leases); its nodes are listed on /admin/
        "/admin/",
    }
    assert newest <= paths
    assert len(CALLBRIDGE_ROUTES) > 120
    assert CALLBRIDGE_SOCKETS == ["/api/v1/realtime", "/chat/ws"]


@pytest.mark.parametrize(("method", "path"), CALLBRIDGE_ROUTES)
def test_every_callbridge_response_carries_the_security_headers(app_harness: Harness, method: str, path: str) -> None:
    harness = app_harness
    token = harness.admin["Authorization"].removeprefix("Bearer ")
    response = harness.client.request(
        method, _concrete(path), headers={"Cookie": f"{SESSION_COOKIE}={token}"}, follow_redirects=False
    )
    _check(dict(response.headers), f"{method} {path} -> {response.status_code}")


# Neither limited nor behind a credential, on purpose: probes a load balancer or monitor calls (never to be
# refused), the API's documentation and static files (no database, nothing secret).
UNLIMITED = {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/static/vendor/{package}/{path:path}"}
TINY = 3


@pytest.fixture(scope="module")
def limited_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """A Callbridge whose every rate limit is 3 a minute."""
    tiny = f"{TINY}/minute"
    for harness in make_harness(
        tmp_path_factory.mktemp("limited"),
        rate_limit_anonymous=tiny,
        rate_limit_sign_in=tiny,
        chat_starts_per_minute=TINY,
    ):
        harness.setup_tenant("t1")
        yield harness


def _refused_for_now(status: int, headers: dict[str, str], body: str, where: str) -> None:
    assert status == 429, where
    assert 1 <= int(headers["retry-after"]) <= 60, where
    assert "try again in" in body, where


@pytest.mark.parametrize(("method", "path"), CALLBRIDGE_ROUTES)
def test_every_callbridge_route_needs_a_credential_or_is_rate_limited(
    limited_harness: Harness, method: str, path: str
) -> None:
    if path in UNLIMITED:
        pytest.skip("listed in UNLIMITED")
    harness = limited_harness
    harness.services.rate_limits.storage.reset()
    answers = [harness.client.request(method, _concrete(path), follow_redirects=False) for _ in range(TINY + 1)]
    for answer in answers:
        _check(dict(answer.headers), f"{method} {path} -> {answer.status_code}")
    last = answers[-1]
    if last.status_code == 429:
        _refused_for_now(last.status_code, dict(last.headers), last.text, f"{method} {path}")
        return
    for answer in answers:  # not limited: then no answer without a credential
        signs_in = answer.status_code == 303 and answer.headers["location"].startswith("/admin/login")
        assert answer.status_code == 401 or signs_in, f"{method} {path}: {answer.status_code}, not limited"


@pytest.mark.parametrize("path", CALLBRIDGE_SOCKETS)
def test_every_callbridge_websocket_is_rate_limited(limited_harness: Harness, path: str) -> None:
    harness = limited_harness
    harness.services.rate_limits.storage.reset()
    for _ in range(TINY):  # refused for want of a ticket or token, but counted
        try:
            with harness.client.websocket_connect(f"{path}?tenant=t1&conversation=x") as socket:
                socket.send_text("{}")
                socket.receive_text()
        except WebSocketDisconnect:
            pass
    with pytest.raises(WebSocketDenialResponse) as refused:
        harness.client.websocket_connect(f"{path}?tenant=t1&conversation=x").__enter__()
    answer = refused.value
    _check(dict(answer.headers), f"WebSocket {path}")
    _refused_for_now(answer.status_code, dict(answer.headers), answer.text, f"WebSocket {path}")


def test_the_widgets_refusal_is_readable_by_the_widget(limited_harness: Harness) -> None:
    """A 429 to the chat widget carries CORS headers for a web site that may carry it, so it can show the wait."""
    harness = limited_harness
    settings = {"widget_origins": ["https://shop.example"], "form_fields": []}
    put = harness.client.put("/api/v1/tenants/t1/chat/settings", json=settings, headers=harness.admin)
    assert put.status_code == 200, put.text
    harness.services.rate_limits.storage.reset()
    origin = {"Origin": "https://shop.example"}
    for _ in range(TINY):
        assert harness.client.get("/chat/v1/t1/widget?queue=q1", headers=origin).status_code == 200
    refused = harness.client.get("/chat/v1/t1/widget?queue=q1", headers=origin)
    _refused_for_now(refused.status_code, dict(refused.headers), refused.text, "widget")
    assert refused.headers["access-control-allow-origin"] == "https://shop.example"
    stranger = harness.client.get("/chat/v1/t1/widget?queue=q1", headers={"Origin": "https://evil.example"})
    assert stranger.status_code == 429
    assert "access-control-allow-origin" not in stranger.headers


def test_a_browser_over_the_limit_gets_a_page_not_json(limited_harness: Harness) -> None:
    harness = limited_harness
    harness.services.rate_limits.storage.reset()
    page = {"Accept": "text/html,application/xhtml+xml"}
    answers = [harness.client.get("/admin/login", headers=page) for _ in range(TINY + 1)]
    assert [a.status_code for a in answers] == [200] * TINY + [429]
    assert answers[-1].headers["content-type"].startswith("text/html")
    assert "Too many requests from your address: try again in" in answers[-1].text


def test_the_console_is_frameable_by_the_tenants_crm_and_nothing_else(app_harness: Harness) -> None:
    harness = app_harness
    body = {"name": "T1", "allowed_origins": ["https://crm.example"]}
    assert harness.client.put("/api/v1/tenants/t1", json=body, headers=harness.admin).status_code == 200
    console = harness.client.get("/console", params={"tenant": "t1"})
    _check(dict(console.headers), "console", "https://crm.example")
    assert "https://evil.example" not in console.headers["content-security-policy"]
    assert "x-frame-options" not in console.headers  # it cannot name origins; the CSP does
    for other in ("/admin/login", "/supervisor/wallboard", "/chat/demo", "/docs", "/sso/login?tenant=t1"):
        response = harness.client.get(other, follow_redirects=False)
        _check(dict(response.headers), other)
        assert "crm.example" not in response.headers["content-security-policy"]


# ------------------------------------------------------------------------------------- the built-in CRM


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    directory: Path = tmp_path_factory.mktemp("crm")
    database_url = f"sqlite:///{directory / 'crm.sqlite3'}"
    admin.create_user(database_url, email="abe@example.com", name="Abe Agent", password="correct horse battery")
    app = create_crm(CrmSettings(database_url=database_url))
    yield app
    app.extensions["callbridge_crm"].engine.dispose()


def _crm_routes() -> list[tuple[str, str]]:
    app = create_crm(CrmSettings(database_url="sqlite://"))
    rules = {
        (method, re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    app.extensions["callbridge_crm"].engine.dispose()
    return sorted(rules)


CRM_ROUTES = _crm_routes()


@pytest.mark.parametrize(("method", "path"), CRM_ROUTES)
def test_every_crm_response_carries_the_security_headers(crm: Flask, method: str, path: str) -> None:
    client = crm.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": "abe@example.com", "password": "correct horse battery", "csrf_token": token.group(1)}
    assert client.post("/login", data=form).status_code == 302
    concrete = path.replace("{object_type}", "contact").replace("{record_id}", "1")
    concrete = re.sub(r"\{[^}]+\}", "1", concrete)
    response = client.open(concrete, method=method)
    framed = response.headers.get("X-Frame-Options") == "SAMEORIGIN"
    _check(
        dict((k.lower(), v) for k, v in response.headers.items()), f"{method} {path}", "'self'" if framed else "'none'"
    )


@pytest.fixture(scope="module")
def limited_crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    directory: Path = tmp_path_factory.mktemp("limited-crm")
    tiny = f"{TINY}/minute"
    settings = CrmSettings(
        database_url=f"sqlite:///{directory / 'crm.sqlite3'}", rate_limit_anonymous=tiny, rate_limit_sign_in=tiny
    )
    app = create_crm(settings)
    yield app
    app.extensions["callbridge_crm"].engine.dispose()


def _crm_rules() -> list[tuple[str, str, str]]:
    app = create_crm(CrmSettings(database_url="sqlite://"))
    rules = {
        (method, rule.rule, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    app.extensions["callbridge_crm"].engine.dispose()
    return sorted(rules)


CRM_RULES = _crm_rules()


@pytest.mark.parametrize(("method", "rule", "endpoint"), CRM_RULES)
def test_every_crm_route_needs_a_session_or_token_or_is_rate_limited(
    limited_crm: Flask, method: str, rule: str, endpoint: str
) -> None:
    if endpoint in CRM_UNLIMITED:
        pytest.skip("listed in callbridge_crm.rate_limits.UNLIMITED")
    limited_crm.extensions["callbridge_crm_rate_limits"].storage.reset()
    client = limited_crm.test_client()
    concrete = rule.replace("<object_type>", "contact")
    concrete = re.sub(r"<[^>]+>", "1", concrete)
    answers = [client.open(concrete, method=method) for _ in range(TINY + 1)]
    for answer in answers:
        headers = {k.lower(): v for k, v in answer.headers.items()}
        framed = headers.get("x-frame-options") == "SAMEORIGIN"
        _check(headers, f"{method} {rule} -> {answer.status_code}", "'self'" if framed else "'none'")
    last = answers[-1]
    if last.status_code == 429:
        _refused_for_now(last.status_code, {k.lower(): v for k, v in last.headers.items()}, last.text, rule)
        return
    for answer in answers:
        signs_in = answer.status_code == 302 and answer.headers["Location"].startswith("/login")
        assert answer.status_code == 401 or signs_in, f"{method} {rule}: {answer.status_code}, not limited"


def test_the_crm_token_endpoint_refuses_with_an_oauth_error(limited_crm: Flask) -> None:
    limited_crm.extensions["callbridge_crm_rate_limits"].storage.reset()
    client = limited_crm.test_client()
    answers = [client.post("/oauth2/token", data={"grant_type": "authorization_code"}) for _ in range(TINY + 1)]
    assert [a.status_code for a in answers[:TINY]] == [401] * TINY  # counted even when refused for other reasons
    assert answers[-1].status_code == 429
    assert answers[-1].json["error"] == "too_many_requests"
    assert int(answers[-1].headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("uploaded_as", "served_as"),
    [
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("TEXT/HTML; charset=utf-8", "application/octet-stream"),
        ("text/plain; charset=latin-1", "text/plain; charset=utf-8"),
        ("image/png", "image/png"),
    ],
)
def test_crm_attachments_are_never_rendered_as_the_uploader_says(uploaded_as: str, served_as: str) -> None:
    headers = attachment_headers(uploaded_as, 'evil".html')
    assert headers["Content-Type"] == served_as
    assert "sandbox" in headers["Content-Security-Policy"]
    if served_as == "application/octet-stream":
        assert headers["Content-Disposition"] == 'attachment; filename="evil.html"'
