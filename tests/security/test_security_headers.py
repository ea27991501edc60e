"""Every response of both applications carries the security headers: `nosniff`, a referrer policy, and a CSP
`frame-ancestors` (`'none'` unless the page is meant to be framed). Each application's route table is walked,
every route and method, and whatever it answers (200, 401, 404, 422, 403 …) is checked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from flask import Flask

from callbridge.web.app import create_app
from callbridge.web.deps import SESSION_COOKIE
from callbridge_crm import admin
from callbridge_crm.app import create_app as create_crm
from callbridge_crm.config import CrmSettings
from callbridge_crm.security import attachment_headers
from tests.e2e.conftest import Harness


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


def test_the_walk_covers_pages_api_and_documentation() -> None:
    paths = {path for _m, path in CALLBRIDGE_ROUTES}
    assert {"/docs", "/openapi.json", "/console", "/supervisor/wallboard", "/admin/{tenant_id}/agents"} <= paths
    assert len(CALLBRIDGE_ROUTES) > 120


@pytest.mark.parametrize(("method", "path"), CALLBRIDGE_ROUTES)
def test_every_callbridge_response_carries_the_security_headers(app_harness: Harness, method: str, path: str) -> None:
    harness = app_harness
    token = harness.admin["Authorization"].removeprefix("Bearer ")
    response = harness.client.request(
        method, _concrete(path), headers={"Cookie": f"{SESSION_COOKIE}={token}"}, follow_redirects=False
    )
    _check(dict(response.headers), f"{method} {path} -> {response.status_code}")


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
