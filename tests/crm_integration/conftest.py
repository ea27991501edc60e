"""A real built-in CRM over HTTP, and an in-process Callbridge connected to it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import WebSocketTestSession

from callbridge.auth.credentials import create_admin_user
from callbridge.config import Settings
from callbridge.services.outbox import RelaySettings
from callbridge.store.database import make_engine, upgrade
from callbridge.web.app import create_app
from callbridge_crm.config import CrmSettings
from callbridge_crm.models import Activity
from callbridge_crm.records import create_record
from callbridge_crm.server import CrmServer
from tests.crm.crm_helpers import Crm, access_token_for, start_crm
from tests.e2e.conftest import LOCAL_SERVICES, Harness
from tests.waiting import DEADLINE_SECONDS

INTEGRATION_USER = "abe@example.com"
FAST_RELAY = RelaySettings(
    base_delay_seconds=0.05,
    max_delay_seconds=0.3,
    poll_seconds=0.2,
    lease_seconds=5,
    link_wait_seconds=DEADLINE_SECONDS,
)


@dataclass
class CrmIds:
    grace: int
    twin_a: int
    twin_b: int
    account: int
    case: int
    case_number: str


def seed(crm: Crm) -> CrmIds:
    engine = create_engine(crm.database_url)
    with Session(engine) as session:
        account = create_record(session, "account", {"name": "Globex", "phone": "+1 (212) 555-0199"}, "US")
        grace = create_record(
            session,
            "contact",
            {
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "grace@globex.example",
                "phone": "(415) 555 0100",
                "account_id": account.id,
            },
            "US",
        )
        twin_a = create_record(
            session, "contact", {"first_name": "Ann", "last_name": "Twin", "phone": "650-555-0123"}, "US"
        )
        twin_b = create_record(
            session, "contact", {"first_name": "Bo", "last_name": "Twin", "phone": "+16505550123"}, "US"
        )
        case = create_record(session, "case", {"subject": "Router keeps rebooting", "contact_id": grace.id}, "US")
        session.commit()
        ids = CrmIds(grace.id, twin_a.id, twin_b.id, account.id, case.id, case.case_number)
    engine.dispose()
    return ids


def activities(crm: Crm) -> list[Activity]:
    engine = create_engine(crm.database_url)
    with Session(engine) as session:
        found = list(session.scalars(select(Activity).order_by(Activity.id)))
        session.expunge_all()
    engine.dispose()
    return found


def activity_count(crm: Crm) -> int:
    engine = create_engine(crm.database_url)
    with Session(engine) as session:
        count = int(session.scalar(select(func.count()).select_from(Activity)) or 0)
    engine.dispose()
    return count


def restart(crm: Crm) -> None:
    """Starts the stopped CRM again on the same port and database."""
    port = int(crm.server.settings.base_url.rsplit(":", 1)[1])
    crm.server = CrmServer.start(CrmSettings.model_validate(crm.server.settings.model_dump()), port=port)


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    started = start_crm(tmp_path_factory.mktemp("crm"))
    yield started
    started.server.stop()


@pytest.fixture(scope="module")
def crm_ids(crm: Crm) -> CrmIds:
    return seed(crm)


class CrmProxy:
    """Forwards HTTP requests to the CRM, as a network between Callbridge and the CRM would.

    `drops`: the first so many activity writes reach the CRM, but their answers are thrown away and the
    connection closed (the CRM wrote, the client never heard). `search_delay_seconds`: searches answer that
    much later (a slow CRM). `hold_searches()`: searches wait until `release_searches()` (a CRM as slow as the
    test needs, whatever the machine's load)."""

    def __init__(self, upstream: str, drops: int = 0, search_delay_seconds: float = 0.0) -> None:
        self.upstream = upstream
        self.drops = drops
        self.search_delay_seconds = search_delay_seconds
        self._searches_go = threading.Event()
        self._searches_go.set()
        self.searches_waiting = 0
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._http = httpx.Client(base_url=upstream)
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            while len(body) < length:
                body += connection.recv(65536)
            forward = {k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type", "accept")}
            if "/search/" in target:
                time.sleep(self.search_delay_seconds)
                with self._lock:
                    self.searches_waiting += 1
                self._searches_go.wait(DEADLINE_SECONDS)
                with self._lock:
                    self.searches_waiting -= 1
            response = self._http.request(method, target, content=body, headers=forward)
            with self._lock:
                drop = method == "PUT" and "/activities/by-external-id/" in target and self.dropped < self.drops
                if drop:
                    self.dropped += 1
            if drop:
                return  # closes the connection without an answer
            reply = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n"
            reply += f"Content-Type: {response.headers.get('content-type', 'application/json')}\r\n"
            reply += f"Content-Length: {len(response.content)}\r\nConnection: close\r\n\r\n"
            connection.sendall(reply.encode("latin-1") + response.content)

    def hold_searches(self) -> None:
        self._searches_go.clear()

    def release_searches(self) -> None:
        self._searches_go.set()

    def close(self) -> None:
        self._searches_go.set()
        self.listener.close()
        self._http.close()


def make_crm_harness(tmp_path: Path, relay: RelaySettings = FAST_RELAY) -> Iterator[Harness]:
    database_url = f"sqlite:///{tmp_path / 'callbridge.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", "correct horse battery")
    settings = Settings(database_url=database_url, data_dir=tmp_path, outbound_allowed_networks=LOCAL_SERVICES)
    app = create_app(settings, engine=engine)
    app.state.auto_log_relay_settings = relay
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": "correct horse battery"}
        ).json()["token"]
        yield Harness(client, {"Authorization": f"Bearer {token}"})
    engine.dispose()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    (tmp_path / "cb").mkdir()
    yield from make_crm_harness(tmp_path / "cb")


def connect_crm(
    harness: Harness, crm: Crm, tenant_id: str = "acme", base_url: str | None = None, **config: Any
) -> None:
    """What an admin does once: the integration user's refresh token (consent with offline access)."""
    token = access_token_for(crm, INTEGRATION_USER, scope="openid email crm.read crm.write offline_access")
    body = {
        "config": {"base_url": base_url or crm.base_url, **config},
        "credentials": {
            "client_id": crm.client_id,
            "client_secret": crm.client_secret,
            "refresh_token": token["refresh_token"],
        },
    }
    response = harness.client.put(
        f"/api/v1/tenants/{tenant_id}/crm-connections/builtin_crm", json=body, headers=harness.admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["has_credentials"] is True
    assert "refresh_token" not in response.text


def configure(harness: Harness, tenant_id: str = "acme", **screen_pop: Any) -> None:
    body = {"enabled": True, **screen_pop}
    response = harness.client.put(f"/api/v1/tenants/{tenant_id}/screen-pop", json=body, headers=harness.admin)
    assert response.status_code == 200, response.text


def enable_auto_log(harness: Harness, tenant_id: str = "acme", **media: bool) -> None:
    body = {"phone": True, "voicemail": True, "chat": True, **media}
    response = harness.client.put(f"/api/v1/tenants/{tenant_id}/auto-log/settings", json=body, headers=harness.admin)
    assert response.status_code == 200, response.text


def open_events(harness: Harness, headers: dict[str, str]) -> WebSocketTestSession:
    ticket = harness.client.post("/api/v1/realtime/tickets", headers=headers)
    assert ticket.status_code == 201, ticket.text
    ws = harness.client.websocket_connect(ticket.json()["url"])
    return ws


def next_pop(ws: WebSocketTestSession, interaction_id: str, seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    for _ in range(100):
        frame = json.loads(ws.receive_text())
        if frame.get("type") != "event" or frame["event"]["type"] != "screen_pop.requested":
            continue
        event: dict[str, Any] = frame["event"]
        if seen is not None:
            seen.append(event)
        if event["interaction_id"] == interaction_id:
            return event
    raise AssertionError(f"no screen pop for {interaction_id}")
