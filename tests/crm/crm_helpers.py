"""Helpers for the built-in CRM tests: a real server on a free port, users, an OIDC client, sign-in."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.security import generate_token

from callbridge_crm import admin
from callbridge_crm.config import CrmSettings
from callbridge_crm.server import CrmServer

PASSWORD = "correct horse battery"
REDIRECT_URI = "http://127.0.0.1:9/sso/callback"
CONSOLE_URL = "http://127.0.0.1:9/console?tenant=demo"


@dataclass
class Crm:
    server: CrmServer
    database_url: str
    client_id: str
    client_secret: str
    public_client_id: str

    @property
    def base_url(self) -> str:
        return self.server.base_url


def start_crm(directory: Path, console_url: str = CONSOLE_URL, public_host: str | None = None) -> Crm:
    database_url = f"sqlite:///{directory / 'crm.sqlite3'}"
    admin.create_user(database_url, email="ann@example.com", name="Ann Admin", password=PASSWORD, admin=True)
    admin.create_user(database_url, email="abe@example.com", name="Abe Agent", password=PASSWORD)
    admin.create_user(database_url, email="nia@example.com", name="Nia NoApi", password=PASSWORD, api_enabled=False)
    confidential = admin.register_client(database_url, name="Callbridge", redirect_uris=[REDIRECT_URI])
    public = admin.register_client(database_url, name="Callbridge SPA", redirect_uris=[REDIRECT_URI], public=True)
    assert confidential.client_secret is not None
    server = CrmServer.start(
        CrmSettings(database_url=database_url, callbridge_console_url=console_url),
        host="127.0.0.1",
        port=0,
        public_host=public_host,
    )
    return Crm(server, database_url, confidential.client_id, confidential.client_secret, public.client_id)


def sign_in(browser_like: httpx.Client, email: str = "abe@example.com", password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would (CSRF token included)."""
    page = browser_like.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = browser_like.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1), "next": "/"}
    )
    assert response.status_code == 302, response.text


def csrf_of(html: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    return token.group(1)


def oauth_client_class() -> type:
    # Authlib's httpx integration warns that it prefers the `httpx2` package; plain httpx is what
    # this project uses, so that notice is not a failure here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from authlib.integrations.httpx_client import OAuth2Client
    return OAuth2Client


def authorize_in_browser(crm: Crm, authorization_url: str, email: str = "abe@example.com") -> httpx.URL:
    """Follow the authorization URL as a person: sign in, click Allow; returns the redirect to the client."""
    with httpx.Client(base_url=crm.base_url) as person:
        response = person.get(authorization_url)
        if response.status_code == 302 and "/login" in response.headers["location"]:
            login_page = person.get(response.headers["location"])
            next_path = parse_qs(urlsplit(response.headers["location"]).query)["next"][0]
            response = person.post(
                "/login",
                data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(login_page.text), "next": next_path},
            )
            assert response.status_code == 302
            response = person.get(response.headers["location"])
        if response.status_code == 200 and "Allow" in response.text:
            action = re.search(r'<form method="post" action="([^"]+)"', response.text)
            assert action is not None
            response = person.post(
                action.group(1).replace("&amp;", "&"),
                data={"csrf_token": csrf_of(response.text), "decision": "allow"},
            )
        assert response.status_code == 302, response.text
        return httpx.URL(response.headers["location"])


def access_token_for(crm: Crm, email: str = "abe@example.com", scope: str = "openid email crm.read crm.write") -> dict:
    client_class = oauth_client_class()
    with client_class(
        crm.client_id,
        crm.client_secret,
        scope=scope,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    ) as client:
        verifier = generate_token(48)
        url, state = client.create_authorization_url(f"{crm.base_url}/oauth2/authorize", code_verifier=verifier)
        callback = authorize_in_browser(crm, url, email)
        token: dict = client.fetch_token(
            f"{crm.base_url}/oauth2/token", authorization_response=str(callback), code_verifier=verifier, state=state
        )
        return token


def authorization_url(client: Any, crm: Crm, **params: Any) -> tuple[str, str]:
    """An authorization URL with PKCE (a fresh verifier unless one is given) and its state."""
    params.setdefault("code_verifier", generate_token(48))
    url, state = client.create_authorization_url(f"{crm.base_url}/oauth2/authorize", **params)
    return str(url), str(state)
