"""Helpers for the single sign-on tests: a real Callbridge server on a port, the built-in CRM on another
origin, `oidc-provider` (a third-party OpenID Connect provider) under node, and a person at the provider."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session
from tests.e2e.conftest import LOCAL_SERVICES

from callbridge.auth.credentials import create_admin_user
from callbridge.config import Settings
from callbridge.store.database import make_engine, upgrade
from callbridge.web.app import create_app
from callbridge.web.server import server_config
from callbridge_crm import admin as crm_admin
from callbridge_crm import db as crm_db
from callbridge_crm.config import CrmSettings
from callbridge_crm.models import User
from callbridge_crm.server import CrmServer
from callbridge_crm.users import create_user as create_crm_user

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SCRIPT = Path(__file__).parent / "oidc_provider" / "provider.mjs"


@dataclass
class Callbridge:
    base_url: str
    engine: Any
    app: Any
    server: uvicorn.Server
    thread: threading.Thread
    admin: dict[str, str] = field(default_factory=dict)

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.admin, timeout=10)

    @property
    def sso(self) -> Any:
        from callbridge.web.sso import sso_service

        class _Request:
            app = self.app

        return sso_service(_Request())  # type: ignore[arg-type]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.engine.dispose()


class _LoopbackTrusted(DefaultCookiePolicy):
    """Like browsers, send Secure cookies to http://127.0.0.1 and http://localhost (trustworthy origins)."""

    def return_ok_secure(self, cookie: Any, request: Any) -> bool:
        return True


def browser_client(base_url: str) -> httpx.Client:
    """An HTTP client that keeps cookies as a browser would on loopback."""

    def add_cookies(request: httpx.Request) -> None:
        # httpx copies the jar (and loses its policy) when it builds a request: set the header from ours
        request.headers.pop("cookie", None)
        client.cookies.set_cookie_header(request)

    client = httpx.Client(
        base_url=base_url,
        cookies=CookieJar(policy=_LoopbackTrusted()),
        timeout=10,
        event_hooks={"request": [add_cookies]},
    )
    return client


def start_callbridge(directory: Path) -> Callbridge:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{directory / 'callbridge.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", PASSWORD)
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=directory,
            public_url=base_url,
            heartbeat_timeout_seconds=600,
            outbound_allowed_networks=LOCAL_SERVICES,
        ),
        engine=engine,
    )

    server = uvicorn.Server(server_config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline, "Callbridge did not start"
        time.sleep(0.02)
    cb = Callbridge(base_url, engine, app, server, thread)
    token = httpx.post(
        f"{base_url}/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD}
    ).json()["token"]
    cb.admin = {"Authorization": f"Bearer {token}"}
    return cb


def setup_tenant(
    cb: Callbridge, tenant: str, agents: list[dict[str, Any]], allowed_origins: list[str], sso: dict[str, Any]
) -> None:
    with cb.api() as api:
        response = api.post(
            "/api/v1/tenants", json={"id": tenant, "name": tenant.title(), "allowed_origins": allowed_origins}
        )
        assert response.status_code == 201, response.text
        for agent in agents:
            body = {"display_name": agent["id"].title(), **agent}
            response = api.post(f"/api/v1/tenants/{tenant}/agents", json=body)
            assert response.status_code == 201, response.text
            time.sleep(0.01)  # distinct creation times: "oldest" is well defined
        response = api.put(f"/api/v1/tenants/{tenant}/sso", json=sso)
        assert response.status_code == 200, response.text


# --------------------------------------------------------------------------------------- built-in CRM


@dataclass
class Crm:
    server: CrmServer
    database_url: str
    client_id: str
    client_secret: str

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def set_user(self, who: str, **changes: Any) -> None:
        engine = create_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(update(User).where(User.email == who).values(**changes))
        engine.dispose()

    def add_user(self, email: str, name: str) -> None:
        crm_admin.create_user(self.database_url, email=email, name=name, password=PASSWORD)


def start_crm(directory: Path, callbridge_url: str, console_path: str, public_host: str = "localhost") -> Crm:
    database_url = f"sqlite:///{directory / 'crm.sqlite3'}"
    engine = crm_db.make_engine(database_url)
    crm_db.initialise(engine, "Test Org", "US")
    with Session(engine) as session:
        for email, name in (
            ("abe@example.com", "Abe Agent"),
            ("bea@example.com", "Bea Agent"),
            ("uma@example.com", "Uma Unverified"),
            ("dan@example.com", "Dan Disabled"),
            ("nobody@example.com", "No Body"),
            ("twin@example.com", "Twin"),
            ("roy@example.com", "Roy Admin-at-CRM"),
        ):
            create_crm_user(session, email=email, name=name, password=PASSWORD, admin=email.startswith("roy"))
        session.commit()
    engine.dispose()
    client = crm_admin.register_client(
        database_url, name="Callbridge", redirect_uris=[f"{callbridge_url}/sso/callback"]
    )
    assert client.client_secret is not None
    server = CrmServer.start(
        CrmSettings(database_url=database_url, callbridge_console_url=f"{callbridge_url}{console_path}"),
        host="127.0.0.1",
        port=0,
        public_host=public_host,
    )
    crm = Crm(server, database_url, client.client_id, client.client_secret)
    crm.set_user("uma@example.com", email_verified=False)
    return crm


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def at_the_crm(crm: Crm, authorization_url: str, email: str, person: httpx.Client | None = None) -> str:
    """A person at the CRM: signs in if asked, clicks Allow if asked; returns where the CRM sends them back."""
    own = person is None
    person = person or httpx.Client(base_url=crm.base_url)
    try:
        response = person.get(authorization_url)
        if response.status_code == 302 and "/login" in response.headers["location"]:
            login_page = person.get(response.headers["location"])
            next_path = parse_qs(urlsplit(response.headers["location"]).query)["next"][0]
            response = person.post(
                "/login",
                data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(login_page.text), "next": next_path},
            )
            assert response.status_code == 302, response.text
            response = person.get(response.headers["location"])
        if response.status_code == 200 and "Allow" in response.text:
            action = re.search(r'<form method="post" action="([^"]+)"', response.text)
            assert action is not None
            response = person.post(
                action.group(1).replace("&amp;", "&"), data={"csrf_token": csrf_of(response.text), "decision": "allow"}
            )
        assert response.status_code == 302, response.text
        return str(response.headers["location"])
    finally:
        if own:
            person.close()


def start_login(browser: httpx.Client, tenant: str, **params: str) -> str:
    """Opens the launch URL in `browser`; returns the provider's authorization URL it is sent to."""
    response = browser.get("/sso/login", params={"tenant": tenant, **params})
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


# --------------------------------------------------------------------------------------- oidc-provider


@dataclass
class OidcProvider:
    process: subprocess.Popen[str]
    issuer: str
    accounts_file: Path

    def set_accounts(self, accounts: dict[str, dict[str, Any]]) -> None:
        self.accounts_file.write_text(json.dumps(accounts))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def node_available() -> bool:
    return shutil.which("node") is not None and (ROOT / "node_modules" / "oidc-provider").is_dir()


def start_oidc_provider(
    directory: Path, clients: list[dict[str, Any]], accounts: dict[str, dict[str, Any]], host: str = "127.0.0.1"
) -> OidcProvider:
    accounts_file = directory / "accounts.json"
    accounts_file.write_text(json.dumps(accounts))
    config_file = directory / "provider.json"
    config_file.write_text(json.dumps({"host": host, "clients": clients, "accounts": str(accounts_file)}))
    process = subprocess.Popen(
        ["node", str(PROVIDER_SCRIPT), str(config_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "NODE_ENV": "test"},
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("READY "):
        process.kill()
        raise AssertionError(f"oidc-provider did not start: {line!r}")
    return OidcProvider(process, line.removeprefix("READY "), accounts_file)


def at_oidc_provider(authorization_url: str, login: str, person: httpx.Client | None = None) -> str:
    """A person at oidc-provider's own pages: signs in if asked, confirms consent if asked."""
    own = person is None
    person = person or httpx.Client(follow_redirects=False)
    try:
        response = person.get(authorization_url)
        for _ in range(10):
            location = response.headers.get("location", "")
            if response.status_code in (302, 303) and "/sso/callback" in location:
                return location
            if response.status_code in (302, 303):
                response = person.get(httpx.URL(str(response.url)).join(location))
                continue
            assert response.status_code == 200, response.text
            action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert action is not None, response.text
            target = httpx.URL(str(response.url)).join(action.group(1))
            if 'name="login"' in response.text:
                response = person.post(target, data={"prompt": "login", "login": login, "password": "x"})
            else:
                response = person.post(target, data={"prompt": "consent"})
        raise AssertionError("the provider never sent the browser back")
    finally:
        if own:
            person.close()


def sign_in_to_crm(context: Any, crm: Crm, email: str) -> Any:
    """A browser page signed in to the CRM as `email` (a Playwright BrowserContext)."""
    page = context.new_page()
    page.goto(f"{crm.base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{crm.base_url}/")
    return page


def console_frame(page: Any, cb: Callbridge) -> Any:
    """The Callbridge console frame docked in a CRM page."""
    page.wait_for_selector("iframe", state="attached")
    for _ in range(200):
        frame = page.frame(url=lambda url: url.startswith(f"{cb.base_url}/console"))
        if frame is not None:
            return frame
        page.wait_for_timeout(50)
    raise AssertionError("no console frame")
