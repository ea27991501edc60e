"""Screen pop latency: from the offer reaching the agent's console to the pop directive reaching it.

`python -m bench screen_pop [--quick] --json` prints {"p50_ms", "p99_ms", ...}. The built-in CRM
runs in its own process with 100,000 contacts (20,000 with --quick), imported from CSV; Callbridge
runs in process (ASGI app, WebSocket test client as the console) with the built-in CRM connector
(refresh-token grant, keep-alive HTTP). Each call comes from a contact's number spelled in one of
five formats, is offered to the one agent, popped, then accepted and completed so the agent is
ready for the next. Goal: p99 <= 50 ms.
"""

from __future__ import annotations

import json
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from tests.e2e.conftest import Harness

from bench.crm_lookup import _free_port, _number, _spell, _wait_until_up, _write_csv
from callbridge.auth.credentials import create_admin_user
from callbridge.config import Settings
from callbridge.store.database import make_engine, upgrade
from callbridge.web.app import create_app
from callbridge_crm import admin
from callbridge_crm import db as database
from callbridge_crm.config import CrmSettings
from callbridge_crm.importer import import_csv
from callbridge_crm.models import OAuthToken
from callbridge_crm.oidc import hash_token


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _integration_user(database_url: str) -> tuple[str, str, str]:
    """An integration user's client and refresh token, stored as the identity provider stores its own."""
    user_id = admin.create_user(database_url, email="integration@example.com", name="Integration", password="x" * 12)
    client = admin.register_client(database_url, name="callbridge", redirect_uris=["http://127.0.0.1/cb"])
    assert client.client_secret is not None
    refresh = secrets.token_urlsafe(32)
    engine = database.make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add(
            OAuthToken(
                client_id=client.client_id,
                user_id=user_id,
                access_token_hash=hash_token(secrets.token_urlsafe(32)),
                refresh_token_hash=hash_token(refresh),
                scope="openid crm.read crm.write offline_access",
                issued_at=int(time.time()),
                expires_in=3600,
            )
        )
    engine.dispose()
    return client.client_id, client.client_secret, refresh


class _Console(threading.Thread):
    """Reads the agent's WebSocket in its own thread and timestamps each frame as it arrives."""

    def __init__(self, ws: Any) -> None:
        super().__init__(daemon=True)
        self.ws = ws
        self.offered: dict[str, float] = {}
        self.popped: dict[str, tuple[float, dict[str, Any]]] = {}
        self.changed = threading.Condition()

    def run(self) -> None:
        while True:
            try:
                frame = json.loads(self.ws.receive_text())
            except Exception:
                return
            now = time.perf_counter()
            if frame.get("type") != "event":
                continue
            event = frame["event"]
            with self.changed:
                if event["type"] == "interaction.changed" and event["interaction"]["state"] == "offered":
                    self.offered.setdefault(event["interaction"]["id"], now)
                elif event["type"] == "screen_pop.requested":
                    self.popped[event["interaction_id"]] = (now, event)
                self.changed.notify_all()

    def wait(self, interaction_id: str) -> tuple[float, float, dict[str, Any]]:
        with self.changed:
            ok = self.changed.wait_for(
                lambda: interaction_id in self.popped and interaction_id in self.offered, timeout=10
            )
        assert ok, f"no offer and pop for {interaction_id}"
        popped_at, pop = self.popped.pop(interaction_id)
        return self.offered.pop(interaction_id), popped_at, pop


def run(quick: bool) -> dict[str, Any]:
    contacts = 20_000 if quick else 100_000
    calls = 300 if quick else 1_500
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="screen-pop-bench-") as directory:
        folder = Path(directory)
        crm_url = f"sqlite:///{folder / 'crm.sqlite3'}"
        _log(f"importing {contacts:,} contacts into the CRM")
        _write_csv(folder / "contacts.csv", contacts, rng)
        engine = database.make_engine(crm_url)
        database.initialise(engine, CrmSettings().organization_name, "US")
        report = import_csv(engine, "contact", folder / "contacts.csv", "US")
        engine.dispose()
        assert report.ok
        assert report.imported == contacts
        client_id, client_secret, refresh = _integration_user(crm_url)
        port = _free_port()
        crm = subprocess.Popen(
            [sys.executable, "-m", "callbridge_crm", "serve", "--port", str(port), "--database-url", crm_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            crm_base = f"http://127.0.0.1:{port}"
            _wait_until_up(crm_base)
            cb_url = f"sqlite:///{folder / 'callbridge.db'}"
            cb_engine = make_engine(cb_url)
            upgrade(cb_engine)
            create_admin_user(cb_engine, "bench@example.com", "bench-password")
            app = create_app(Settings(database_url=cb_url, data_dir=folder), engine=cb_engine)
            with TestClient(app) as client:
                token = client.post(
                    "/api/v1/auth/admin-sessions", json={"email": "bench@example.com", "password": "bench-password"}
                ).json()["token"]
                harness = Harness(client, {"Authorization": f"Bearer {token}"})
                harness.setup_tenant("acme", agents=1, offer_timeout=60)
                h = harness.admin
                client.put(
                    "/api/v1/tenants/acme/crm-connections/builtin_crm",
                    json={
                        "config": {"base_url": crm_base},
                        "credentials": {
                            "client_id": client_id,
                            "client_secret": client_secret,
                            "refresh_token": refresh,
                        },
                    },
                    headers=h,
                ).raise_for_status()
                client.put("/api/v1/tenants/acme/screen-pop", json={"enabled": True}, headers=h).raise_for_status()
                agent = harness.sign_in("acme", "agent1")
                pbx = harness.api_key("acme")
                client.put("/api/v1/me/status", json={"status": "available"}, headers=agent).raise_for_status()
                ticket = client.post("/api/v1/realtime/tickets", headers=agent).json()["url"]
                latencies: list[float] = []
                kinds: dict[str, int] = {}
                with client.websocket_connect(ticket) as ws:
                    ws.receive_text()
                    console = _Console(ws)
                    console.start()
                    _log(f"{calls:,} calls (the first 30 warm up)")
                    for n in range(calls + 30):
                        number = _spell(*_number(rng.randrange(contacts)), rng.randrange(5))
                        created = client.post(
                            "/api/v1/interactions",
                            json={"queue_id": "sales", "channel": "phone", "from_address": number},
                            headers=pbx,
                        )
                        iid = created.json()["id"]
                        offered_at, popped_at, pop = console.wait(iid)
                        if n >= 30:
                            latencies.append(max(0.0, popped_at - offered_at) * 1000)
                            kinds[pop["target"]["kind"]] = kinds.get(pop["target"]["kind"], 0) + 1
                        client.post(f"/api/v1/me/offers/{iid}/accept", headers=agent)
                        client.post(f"/api/v1/me/interactions/{iid}/complete", json={}, headers=agent)
            cb_engine.dispose()
        finally:
            crm.terminate()
            crm.wait(timeout=10)
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    p50 = statistics.median(latencies)
    _log(f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, targets {kinds}")
    return {
        "contacts": contacts,
        "calls": calls,
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "max_ms": round(latencies[-1], 3),
        "record_pops": kinds.get("record", 0),
        "other_pops": sum(v for k, v in kinds.items() if k != "record"),
    }
