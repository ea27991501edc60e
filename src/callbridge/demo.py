"""`callbridge demo`: a small contact center that visibly works, on SQLite, with no outside system.

It provisions a tenant "demo" (skills, phone/chat/voicemail queues, agents),
starts the server, and runs two things beside it: a traffic generator that
plays the outside world at the chosen rate (a PBX posting call events to the
telephony events API, the odd voicemail deposited with a generated WAV, and
chat customers talking over the chat widget's WebSocket), and simulated agents
("bots") that go available, accept offers, talk (or chat) for a while and wrap
up through the agents' API, as a person would. Two human agent accounts are
left for you. The tenant is connected to the built-in CRM as an admin would connect it (the CRM page's
Connect, signed in as the CRM's integration user), with screen pop and auto log on.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from sqlalchemy import Engine
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed

from callbridge.auth.credentials import create_admin_user
from callbridge.config import Settings
from callbridge.logging import configure_logging
from callbridge.services.agent_sessions import sign_in_agent
from callbridge.store.database import make_engine, upgrade
from callbridge.store.sessions import admin_user
from callbridge.web.app import create_app
from callbridge.web.deps import Services
from callbridge.web.server import server_config

TENANT = "demo"
ADMIN_EMAIL = "admin@demo.example"
QUEUES: list[dict[str, Any]] = [
    {"id": "sales", "name": "Sales", "channel": "phone", "required_skills": {"english": 1}, "priority": 10},
    {"id": "support", "name": "Support", "channel": "phone", "required_skills": {"english": 1}},
    {"id": "web-chat", "name": "Web chat", "channel": "chat", "required_skills": {"english": 1}},
    {"id": "voicemail", "name": "Voicemail", "channel": "voicemail", "offer_timeout_seconds": 60},
]
# The CRM user that auto log writes as: the admin signs in as it when pressing Connect.
INTEGRATION_USER = ("integration@demo.example", "Callbridge Integration")
API_KEY_NAME = "demo traffic generator"
DEMO_TEAMS = ("North", "South")
HUMANS = [
    ("alex", "alex@demo.example", "Alex Martin", ["agent", "supervisor", "admin"]),
    ("sam", "sam@demo.example", "Sam Rivera", ["agent"]),
]
CALLERS = ["+14155550100", "+14155550123", "(415) 555-0147", "+442071838750", "+33142685300", "4155550199"]


@dataclass
class DemoAccounts:
    admin_password: str
    api_key: str


def run_demo(*, rate_per_minute: float, bots: int, directory: str, port: int, duration: float) -> None:
    folder = Path(directory).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=f"sqlite:///{folder / 'callbridge.db'}",
        data_dir=folder,
        port=port,
        heartbeat_timeout_seconds=30,
        chat_starts_per_minute=100_000,  # every simulated customer comes from this machine
        rate_limit_anonymous="100000/minute",  # their widgets and WebSockets too
        # the demo's built-in CRM (its identity provider and REST API) listens on this machine
        outbound_allowed_networks=os.environ.get("CALLBRIDGE_OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128"),
    )
    configure_logging(settings.log_format, "WARNING")
    asyncio.run(_demo(settings, rate_per_minute, bots, duration))


async def _demo(settings: Settings, rate_per_minute: float, bots: int, duration: float) -> None:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    admin_password = _ensure_admin(engine, settings.data_dir)
    app = create_app(settings, engine=engine)
    server = uvicorn.Server(server_config(app, host=settings.host, port=settings.port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            return
        await asyncio.sleep(0.05)
    # Ctrl+C stops the demo cleanly from here on, even during set-up (the server has installed its own
    # handlers by now, and these replace them).
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    base = settings.effective_public_url()
    crm = await asyncio.to_thread(_start_builtin_crm, settings.data_dir, settings.port + 1, base)
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        accounts = await _provision(http, admin_password, bots, crm)
        services: Services = app.state.services
        tasks = [asyncio.create_task(_traffic(http, accounts.api_key, rate_per_minute))]
        for n in range(1, bots + 1):
            token = await sign_in_agent(services.engine, services.node, services.clock, TENANT, f"bot{n}")
            tasks.append(asyncio.create_task(_bot(http, token)))
        _print_welcome(base, settings.data_dir, admin_password, accounts, rate_per_minute, bots, crm)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration or None)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for running in list(_background):
            running.cancel()
        await asyncio.gather(*_background, return_exceptions=True)
    server.should_exit = True
    await serving
    crm.process.terminate()
    crm.process.wait(timeout=10)
    engine.dispose()
    print("demo stopped; its data stays in", settings.data_dir)


def _ensure_admin(engine: Engine, folder: Path) -> str:
    password_file = folder / "admin-password.txt"
    if admin_user(engine, ADMIN_EMAIL) is None:
        password = secrets.token_urlsafe(12)
        create_admin_user(engine, ADMIN_EMAIL, password)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    return password_file.read_text().strip()


@dataclass
class BuiltinCrm:
    process: subprocess.Popen[bytes]
    origin: str
    password: str
    client_id: str
    client_secret: str
    # the OAuth client that Callbridge's CRM connection uses (the admin page's Connect), and its user
    integration_client_id: str
    integration_client_secret: str


def _register_client(crm: list[str], database_url: str, name: str, redirect_uri: str, into: Path) -> None:
    """Registers an OAuth client at the CRM and keeps its id and secret in `into`."""
    registered = subprocess.run(  # noqa: S603
        [*crm, "clients", "create", "--name", name, "--redirect-uri", redirect_uri, "--database-url", database_url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = dict(line.split(":", 1) for line in registered.splitlines() if ":" in line)
    into.write_text(f"{values['client_id'].strip()}\n{values['client_secret'].strip()}\n")
    into.chmod(0o600)


CRM_START_SECONDS = 60.0


def _start_builtin_crm(folder: Path, port: int, callbridge_url: str) -> BuiltinCrm:
    """The built-in CRM is its own application: run it as its own process, on its own origin."""
    database_url = f"sqlite:///{folder / 'crm.db'}"
    crm = [sys.executable, "-m", "callbridge_crm"]
    password_file = folder / "crm-password.txt"
    if not password_file.exists():
        print("Seeding the built-in CRM with demo contacts, accounts and cases…", flush=True)
        # our own interpreter and fixed arguments: nothing untrusted reaches these commands
        subprocess.run([*crm, "seed", "--database-url", database_url], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        password = secrets.token_urlsafe(9)
        for _agent_id, email, name, roles in HUMANS:
            command = [*crm, "users", "create", "--email", email, "--name", name, "--password", password]
            admin = ["--admin"] if "admin" in roles else []
            arguments = [*command, *admin, "--database-url", database_url]
            subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    client_file = folder / "crm-client.txt"
    if not client_file.exists():
        # Callbridge signs agents in with the CRM as its OpenID Connect provider
        _register_client(crm, database_url, "Callbridge", f"{callbridge_url}/sso/callback", client_file)
    integration_file = folder / "crm-integration-client.txt"
    if not integration_file.exists():
        # the admin page's Connect signs in to the CRM as the integration user, whom auto log writes as
        email, name = INTEGRATION_USER
        password = password_file.read_text().strip()
        command = [*crm, "users", "create", "--email", email, "--name", name, "--password", password]
        subprocess.run([*command, "--database-url", database_url], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        redirect_uri = f"{callbridge_url}/admin/crm/connected"
        _register_client(crm, database_url, "Callbridge auto log and screen pop", redirect_uri, integration_file)
    client_id, client_secret = client_file.read_text().split()
    # "localhost" rather than 127.0.0.1: the CRM and Callbridge are different web origins, as in production
    origin = f"http://localhost:{port}"
    with (folder / "crm.log").open("ab") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(  # noqa: S603
            [*crm, "serve", "--host", "127.0.0.1", "--port", str(port), "--base-url", origin]
            + ["--callbridge-url", f"{callbridge_url}/console?tenant={TENANT}", "--database-url", database_url],
            stdout=log,
            stderr=log,
        )
    deadline = time.monotonic() + CRM_START_SECONDS  # a busy machine may take a while: wait, but not for ever
    while True:
        try:
            if httpx.get(f"{origin}/.well-known/openid-configuration", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the built-in CRM did not start; see {folder / 'crm.log'}")
        if time.monotonic() > deadline:
            process.terminate()
            log_path = folder / "crm.log"
            raise RuntimeError(f"the built-in CRM did not answer within {CRM_START_SECONDS:g} s; see {log_path}")
        time.sleep(0.1)
    integration_id, integration_secret = integration_file.read_text().split()
    password = password_file.read_text().strip()
    return BuiltinCrm(process, origin, password, client_id, client_secret, integration_id, integration_secret)


async def _provision(http: httpx.AsyncClient, admin_password: str, bots: int, crm: BuiltinCrm) -> DemoAccounts:
    login = await http.post("/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": admin_password})
    login.raise_for_status()
    admin = {"Authorization": f"Bearer {login.json()['token']}"}

    async def ensure(path: str, body: dict[str, Any]) -> None:
        response = await http.post(path, json=body, headers=admin)
        if response.status_code not in (201, 409):
            raise RuntimeError(f"demo set-up failed at {path}: {response.text}")

    tenant_body = {
        "id": TENANT,
        "name": "Demo Company",
        "time_zone": "America/Los_Angeles",
        "allowed_origins": [crm.origin],
    }
    await ensure("/api/v1/tenants", tenant_body)
    tenant = f"/api/v1/tenants/{TENANT}"
    for skill in ("english", "billing"):
        await ensure(f"{tenant}/skills", {"name": skill})
    for queue in QUEUES:
        await ensure(f"{tenant}/queues", queue)
    queue_ids = [q["id"] for q in QUEUES]
    for agent_id, email, name, roles in HUMANS:
        body = {"id": agent_id, "email": email, "display_name": name, "roles": roles, "queue_ids": queue_ids}
        await ensure(f"{tenant}/agents", {**body, "skills": {"english": 3, "billing": 2}})
    for n in range(1, bots + 1):
        body = {"id": f"bot{n}", "email": f"bot{n}@demo.example", "display_name": f"Bot {n}", "queue_ids": queue_ids}
        await ensure(f"{tenant}/agents", {**body, "skills": {"english": random.randint(1, 5)}})  # noqa: S311
    # teams, so the wallboard and the agent reports can be filtered and grouped by them
    agent_ids = [human[0] for human in HUMANS] + [f"bot{n}" for n in range(1, bots + 1)]
    for n, agent_id in enumerate(agent_ids):
        team = {"team": DEMO_TEAMS[n % len(DEMO_TEAMS)]}
        placed = await http.put(f"{tenant}/reports/teams/{agent_id}", json=team, headers=admin)
        if placed.status_code != 200:
            raise RuntimeError(f"demo set-up failed at teams: {placed.text}")
    sso = {"kind": "builtin_crm", "display_name": "Demo CRM", "issuer": crm.origin}
    configured = await http.put(
        f"{tenant}/sso", json={**sso, "client_id": crm.client_id, "client_secret": crm.client_secret}, headers=admin
    )
    if configured.status_code != 200:
        raise RuntimeError(f"demo single sign-on set-up failed: {configured.text}")
    await _connect_crm(http, admin, admin_password, crm)
    # the headline features on: screen pop on every trigger's default, auto log for every channel
    popping = await http.put(f"{tenant}/screen-pop", json={"enabled": True, "crm": "builtin_crm"}, headers=admin)
    logging = await http.put(
        f"{tenant}/auto-log/settings",
        json={"crm": "builtin_crm", "phone": True, "voicemail": True, "chat": True},
        headers=admin,
    )
    for response in (popping, logging):
        if response.status_code != 200:
            raise RuntimeError(f"demo CRM integration set-up failed: {response.text}")
    return DemoAccounts(admin_password, await _fresh_api_key(http, admin))


async def _fresh_api_key(http: httpx.AsyncClient, admin: dict[str, str]) -> str:
    """A new key for this run's traffic generator; the previous runs' keys are revoked (their secrets are gone)."""
    keys = f"/api/v1/tenants/{TENANT}/api-keys"
    listed = await http.get(keys, headers=admin)
    listed.raise_for_status()
    for key in listed.json():
        if key["name"] == API_KEY_NAME and key["revoked_at"] is None:
            (await http.delete(f"{keys}/{key['id']}", headers=admin)).raise_for_status()
    created = await http.post(keys, json={"name": API_KEY_NAME}, headers=admin)
    created.raise_for_status()
    secret: str = created.json()["secret"]
    return secret


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise RuntimeError("demo set-up: a form without its CSRF token")
    return found.group(1)


async def _connect_crm(http: httpx.AsyncClient, admin: dict[str, str], admin_password: str, crm: BuiltinCrm) -> None:
    """Connects the tenant to the built-in CRM as an admin does on the CRM page: save the CRM's URL and OAuth
    client, press Connect, sign in to the CRM as its integration user and allow; Callbridge stores the tokens.
    Once connected, later runs keep the connection."""
    state = await http.get(f"/api/v1/tenants/{TENANT}/crm-connections/builtin_crm", headers=admin)
    if state.status_code == 200 and state.json()["connected"]:
        return
    async with httpx.AsyncClient(base_url=http.base_url, timeout=10) as browser:
        form = await browser.get("/admin/login")
        signed_in = await browser.post(
            "/admin/login",
            data={"csrf_token": _csrf(form.text), "email": ADMIN_EMAIL, "password": admin_password, "next": "/admin/"},
        )
        if signed_in.status_code != 303:
            raise RuntimeError(f"demo set-up: the admin pages refused the sign-in ({signed_in.status_code})")
        page = f"/admin/{TENANT}/crm"
        saved = await browser.post(
            f"{page}/builtin_crm",
            data={
                "csrf_token": _csrf((await browser.get(page)).text),
                "config.base_url": crm.origin,
                "credentials.client_id": crm.integration_client_id,
                "credentials.client_secret": crm.integration_client_secret,
            },
        )
        if saved.status_code != 303:
            raise RuntimeError(f"demo set-up: saving the CRM connection failed: {saved.text}")
        started = await browser.post(
            f"{page}/builtin_crm/connect", data={"csrf_token": _csrf((await browser.get(page)).text)}
        )
        if started.status_code != 303:
            raise RuntimeError(f"demo set-up: Connect did not start: {started.text}")
        callback = await _allow_at_crm(crm, started.headers["location"])
        done = await browser.get(f"{callback.path}?{callback.query}")
        if done.status_code != 303 or "crm_connected" not in done.headers.get("location", ""):
            raise RuntimeError(f"demo set-up: the CRM connection was not made: {done.text}")


async def _allow_at_crm(crm: BuiltinCrm, authorization_url: str) -> Any:
    """At the CRM, as its integration user: sign in, allow Callbridge; answers the redirect back to Callbridge."""
    async with httpx.AsyncClient(base_url=crm.origin, timeout=10) as person:
        response = await person.get(authorization_url)
        if response.status_code == 302 and "/login" in response.headers["location"]:
            login = response.headers["location"]
            form = await person.get(login)
            response = await person.post(
                "/login",
                data={
                    "email": INTEGRATION_USER[0],
                    "password": crm.password,
                    "csrf_token": _csrf(form.text),
                    "next": parse_qs(urlsplit(login).query)["next"][0],
                },
            )
            if response.status_code != 302:
                raise RuntimeError(f"demo set-up: the CRM refused its integration user ({response.status_code})")
            response = await person.get(response.headers["location"])
        if response.status_code == 200 and "Allow" in response.text:
            action = re.search(r'<form method="post" action="([^"]+)"', response.text)
            if action is None:
                raise RuntimeError("demo set-up: the CRM's consent page has no form")
            response = await person.post(
                action.group(1).replace("&amp;", "&"), data={"csrf_token": _csrf(response.text), "decision": "allow"}
            )
        if response.status_code != 302:
            raise RuntimeError(f"demo set-up: the CRM did not send the admin back ({response.status_code})")
        return urlsplit(response.headers["location"])


async def _traffic(http: httpx.AsyncClient, api_key: str, rate_per_minute: float) -> None:
    """Inbound calls (telephony events), chats (a customer on the widget's WebSocket) and voicemails,
    at random (Poisson) intervals."""
    headers = {"Authorization": f"Bearer {api_key}"}
    kinds = ["sales", "support", "sales", "support", "chat", "chat", "voicemail"]
    while True:
        await asyncio.sleep(random.expovariate(rate_per_minute / 60))
        kind = random.choice(kinds)
        if kind == "chat":
            work = _chat_customer(http)
        elif kind == "voicemail":
            work = _voicemail(http, headers)
        else:
            work = _call(http, headers, kind)
        task = asyncio.ensure_future(work)
        _background.add(task)
        task.add_done_callback(_background.discard)


_background: set[asyncio.Future[None]] = set()


async def _call(http: httpx.AsyncClient, headers: dict[str, str], queue_id: str) -> None:
    """A PBX reports a call: incoming, then the caller hangs up (some give up while waiting)."""
    call_id = f"call-{uuid.uuid4().hex[:12]}"

    async def event(kind: str, **body: Any) -> None:
        payload = {"event_id": uuid.uuid4().hex, "type": kind, "call_id": call_id, **body}
        with contextlib.suppress(httpx.HTTPError):
            await http.post("/api/v1/telephony/events", json=payload, headers=headers)

    await event(
        "call.incoming",
        queue_id=queue_id,
        from_address=random.choice(CALLERS),
        to_address="+18005550100",
        ivr={"menu": random.choice(["1", "2", "3"]), "language": "en"},
    )
    if random.random() < 0.1:
        await asyncio.sleep(random.uniform(5, 30))
        await event("call.abandoned", reason="caller hung up while waiting")
    else:
        await asyncio.sleep(random.uniform(20, 70))
        await event("call.ended", reason="caller hung up")


def _demo_wav(seconds: float = 3.0, rate: int = 8000) -> bytes:
    """A short tone, standing in for a caller's message."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        frames = bytearray()
        for n in range(int(seconds * rate)):
            sample = int(8000 * math.sin(2 * math.pi * 440 * n / rate) * (1 - n / (seconds * rate)))
            frames += sample.to_bytes(2, "little", signed=True)
        writer.writeframes(bytes(frames))
    return buffer.getvalue()


async def _voicemail(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    form = {
        "queue_id": "voicemail",
        "from_address": random.choice(CALLERS),
        "to_address": "+18005550100",
        "transcription": "Hi, this is about my last invoice. Please call me back.",
    }
    files = {"audio": ("message.wav", _demo_wav(random.uniform(2, 5)), "audio/wav")}
    with contextlib.suppress(httpx.HTTPError):
        await http.post("/api/v1/voicemails", data=form, files=files, headers=headers)


CHAT_LINES = ["Hello, I have a question about my order.", "It has not arrived yet.", "Thanks for your help!"]


async def _chat_customer(http: httpx.AsyncClient) -> None:
    """A customer fills in the widget's form, chats for a while, and leaves (or gives up waiting)."""
    form = {
        "queue": "web-chat",
        "name": "Visitor",
        "email": "visitor@example.com",
        "case_number": f"{random.randint(1000, 1200):08d}",
    }
    with contextlib.suppress(httpx.HTTPError, OSError, ValueError, TimeoutError, ConnectionClosed):
        response = await http.post(f"/chat/v1/{TENANT}/conversations", json=form)
        if response.status_code != 201:
            return
        started = response.json()
        url = str(http.base_url).replace("http", "ws", 1).rstrip("/") + started["websocket"]
        async with websocket_connect(url) as ws:
            await ws.send(json.dumps({"type": "hello", "token": started["token"]}))
            lines = list(CHAT_LINES)
            deadline = time.monotonic() + random.uniform(60, 120)
            await ws.send(json.dumps({"type": "message", "text": lines.pop(0)}))
            while time.monotonic() < deadline:
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                except TimeoutError:
                    frame = {}
                if frame.get("type") == "state" and frame.get("state") == "ended":
                    return
                if frame.get("type") == "message" and frame["message"]["sender"] == "agent" and lines:
                    await asyncio.sleep(random.uniform(2, 6))
                    await ws.send(json.dumps({"type": "message", "text": lines.pop(0)}))
            await ws.send(json.dumps({"type": "leave"}))


async def _bot(http: httpx.AsyncClient, token: str) -> None:
    """A simulated agent: available, accepts offers after a ring or two, talks, wraps up."""
    headers = {"Authorization": f"Bearer {token}"}
    await http.put("/api/v1/me/status", json={"status": "available"}, headers=headers)
    handling: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(1.0)
        with contextlib.suppress(httpx.HTTPError):
            me = (await http.get("/api/v1/me", headers=headers)).json()
            mine = me["agents"].get(me["me"], {})
            if mine.get("status") == "break":
                await http.put("/api/v1/me/status", json={"status": "available"}, headers=headers)
            for interaction in me["interactions"].values():
                iid, state = interaction["id"], interaction["state"]
                if state == "offered" and iid not in handling:
                    await asyncio.sleep(random.uniform(0.5, 3))
                    await http.post(f"/api/v1/me/offers/{iid}/accept", headers=headers)
                    handling[iid] = loop.time() + random.uniform(8, 40)
                    if interaction["channel"] == "chat":
                        greeting = {"text": f"Hi {interaction['data'].get('name', '')}, how can I help?"}
                        await http.post(f"/api/v1/me/chats/{iid}/messages", json=greeting, headers=headers)
                elif state == "connected" and loop.time() >= handling.get(iid, 0):
                    await http.post(f"/api/v1/me/interactions/{iid}/end", json={"reason": "hangup"}, headers=headers)
                elif state == "wrap_up":
                    await http.post(
                        f"/api/v1/me/interactions/{iid}/complete",
                        json={"disposition": random.choice(["resolved", "callback", "sale"]), "notes": "handled"},
                        headers=headers,
                    )
                    handling.pop(iid, None)


def _print_welcome(
    base: str, folder: Path, admin_password: str, accounts: DemoAccounts, rate: float, bots: int, crm: BuiltinCrm
) -> None:
    print(
        f"""
Callbridge demo is running ({rate:g} interactions/minute, {bots} simulated agents).

  Built-in CRM                {crm.origin}/   (console workspace with the agent console: {crm.origin}/console)
  Agent console, own window   {base}/console?tenant={TENANT}
    agents sign in through the CRM as {HUMANS[0][1]} (also supervisor and admin) or
    {HUMANS[1][1]}, password {crm.password}
  Chat as a customer          {base}/chat/demo?tenant={TENANT}   (the chat widget on a plain web page)
  Supervisor wallboard        {base}/supervisor/wallboard?tenant={TENANT}   (reports: /supervisor/reports)
  Admin pages                 {base}/admin/
  API and its documentation   {base}/docs        Metrics  {base}/metrics

  Where to look: the CRM is connected (as {INTEGRATION_USER[0]}), screen pop and auto log are on.
    Screen pops      sign in to the CRM console {crm.origin}/console as {HUMANS[0][1]} and go Available:
                     each call, chat or voicemail offered to you opens the caller's record as a tab
                     (settings: {base}/admin/{TENANT}/screen-pop)
    Logged calls     every completed call, chat and voicemail is written to the CRM as an activity:
                     {crm.origin}/activities (and on each contact's page);
                     Callbridge's side: {base}/admin/{TENANT}/auto-log

  Administrator   {ADMIN_EMAIL} / {admin_password}   (also in {folder / "admin-password.txt"})
  Sign in:        curl -X POST {base}/api/v1/auth/admin-sessions -H 'content-type: application/json' \\
                    -d '{{"email": "{ADMIN_EMAIL}", "password": "{admin_password}"}}'
  Integration API key for tenant "{TENANT}" (shown once; the previous run's is revoked): {accounts.api_key}

{_voice_line()}
Data: {folder}. Press Ctrl-C to stop.
""",
        flush=True,
    )


def _voice_line() -> str:
    """The demo's calls are simulated (telephony events API); say how real calls are added."""
    engines = ("/usr/sbin/kamailio", "/usr/bin/rtpengine")
    if all(Path(binary).exists() for binary in engines):
        how = "Kamailio and rtpengine are installed: see docs/voice.md to take real calls (CALLBRIDGE_VOICE_ENABLED)"
    else:
        how = "install Kamailio and rtpengine (scripts/install-voice-engines, as root), then see docs/voice.md"
    return f"  Phone calls here are simulated. Real calls: {how}.\n"
