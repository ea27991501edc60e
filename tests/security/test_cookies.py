"""Every cookie either application sets is HttpOnly, has a SameSite attribute, and is Secure over HTTPS (also
behind a proxy that ends TLS, when the public URL is https). Callbridge's cookies are all made by
`callbridge.web.cookies`; the built-in CRM's one cookie (its session) by its Flask configuration. Both route
tables are walked, and the sign-in and sign-out routes are exercised."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from callbridge.web.app import create_app
from callbridge_crm import admin
from callbridge_crm.app import create_app as create_crm
from callbridge_crm.config import CrmSettings
from tests.e2e.conftest import Harness, make_harness

HTTPS = "https://testserver"
ADMIN, PASSWORD = "root@example.com", "correct horse battery"


def check_cookies(response: httpx.Response, where: str, *, secure: bool) -> list[str]:
    """The Set-Cookie headers of a response, each checked."""
    found = []
    for header in response.headers.get_list("set-cookie"):
        attributes = [part.strip().lower() for part in header.split(";")]
        assert "httponly" in attributes, f"{where}: {header}"
        assert any(a.startswith("samesite=") for a in attributes), f"{where}: {header}"
        if secure:
            assert "secure" in attributes, f"{where}: {header}"
        if "samesite=none" in attributes:
            assert "secure" in attributes, f"{where}: {header}"  # browsers drop it otherwise
        found.append(header)
    return found


@pytest.fixture(scope="module")
def behind_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """A Callbridge whose public URL is https (a proxy ends TLS) and is reached over plain HTTP, as the proxy
    reaches it: no forwarding header is trusted, so only the public URL says the browser uses HTTPS."""
    for harness in make_harness(tmp_path_factory.mktemp("callbridge"), public_url="https://cb.example"):
        harness.setup_tenant("t1")
        yield harness


def admin_page_sign_in(harness: Harness) -> httpx.Response:
    """The sign-in form, sent by the proxy over plain HTTP (the browser's Secure cookie is passed on as is)."""
    page = harness.client.get("http://testserver/admin/login")
    (login_cookie,) = check_cookies(page, "GET /admin/login", secure=True)
    field = re.search(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', page.text)
    assert field is not None
    body = {field.group(1): field.group(2), "email": ADMIN, "password": PASSWORD, "next": "/admin/"}
    cookie = {"Cookie": login_cookie.split(";")[0]}
    harness.client.cookies.clear()
    return harness.client.post("http://testserver/admin/login", data=body, headers=cookie, follow_redirects=False)


def test_the_admin_session_cookie_is_secure_behind_a_proxy_that_ends_tls(behind_tls: Harness) -> None:
    response = admin_page_sign_in(behind_tls)
    assert response.status_code == 303
    cookies = [c.lower() for c in check_cookies(response, "POST /admin/login", secure=True)]
    assert any(c.startswith("callbridge_session=") and "samesite=lax" in c for c in cookies)
    assert any(c.startswith("callbridge_login_csrf=;") and "max-age=0" in c for c in cookies)


def test_signing_an_agent_out_deletes_the_partitioned_session_cookie(behind_tls: Harness) -> None:
    agent = behind_tls.sign_in("t1", "agent1")
    response = behind_tls.client.post(f"{HTTPS}/api/v1/me/sign-out", headers=agent)
    assert response.status_code == 204
    (cookie,) = [c.lower() for c in check_cookies(response, "POST /api/v1/me/sign-out", secure=True)]
    # the session cookie lives in the CRM's partition: only a deletion that says Partitioned reaches it
    assert cookie.startswith("callbridge_session=;")
    assert "partitioned" in cookie
    assert "max-age=0" in cookie


CALLBRIDGE_ROUTES = sorted(
    {
        (method, route.path)
        for route in iter_route_contexts(create_app().routes)
        for method in (route.methods or ())
        if method != "HEAD"
    }
)


@pytest.mark.parametrize(("method", "path"), CALLBRIDGE_ROUTES)
def test_every_cookie_callbridge_sets_has_its_flags(behind_tls: Harness, method: str, path: str) -> None:
    concrete = re.sub(r"\{[^}]+\}", "nothing-here", path.replace("{tenant_id}", "t1"))
    query = "?tenant=t1" if path.startswith("/sso/login") or path == "/console" else ""
    for base in (HTTPS, "http://testserver"):  # over HTTPS, and over HTTP behind the TLS proxy
        response = behind_tls.client.request(
            method, f"{base}{concrete}{query}", headers=behind_tls.admin, follow_redirects=False
        )
        check_cookies(response, f"{method} {base}{path}", secure=True)


# ------------------------------------------------------------------------------------- the built-in CRM


def test_every_cookie_the_crm_sets_has_its_flags(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    admin.create_user(database_url, email="abe@example.com", name="Abe Agent", password=PASSWORD)
    app = create_crm(CrmSettings(database_url=database_url, base_url="https://crm.example"))
    rules = sorted(
        {(m, r.rule) for r in app.url_map.iter_rules() for m in (r.methods or ()) if m not in ("HEAD", "OPTIONS")}
    )
    client = app.test_client()
    page = client.get("/login", base_url="https://crm.example")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": "abe@example.com", "password": PASSWORD, "csrf_token": token.group(1)}
    signed_in = client.post("/login", data=form, base_url="https://crm.example")
    assert signed_in.status_code == 302
    for method, rule in [("POST", "/login"), *rules]:
        concrete = re.sub(r"<[^>]+>", "1", rule)
        response = client.open(concrete, method=method, base_url="https://crm.example")
        for header in response.headers.getlist("Set-Cookie"):
            cookie = SimpleCookie(header)
            for morsel in cookie.values():
                assert morsel["httponly"], f"{method} {rule}: {header}"
                assert morsel["secure"], f"{method} {rule}: {header}"
                assert morsel["samesite"].lower() in ("lax", "strict"), f"{method} {rule}: {header}"
    for header in signed_in.headers.getlist("Set-Cookie"):
        for flag in ("HttpOnly", "Secure", "SameSite=Lax"):
            assert flag in header, header
    app.extensions["callbridge_crm"].engine.dispose()
