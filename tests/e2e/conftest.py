"""An in-process Callbridge (real SQLite file, real ASGI app, TestClient) with two tenants."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from callbridge.auth.credentials import create_admin_user
from callbridge.config import Settings
from callbridge.services.agent_sessions import sign_in_agent
from callbridge.store.database import make_engine, upgrade
from callbridge.web.app import create_app
from callbridge.web.deps import Services
from callbridge.web.server import server_config


@dataclass
class Harness:
    client: TestClient
    admin: dict[str, str]

    @property
    def services(self) -> Services:
        found: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return found

    def run(self, coroutine: Any) -> Any:
        return self.client.portal.call(lambda: coroutine)  # type: ignore[union-attr]

    def sign_in(self, tenant_id: str, agent_id: str) -> dict[str, str]:
        """What single sign-on will do: a session for the agent, who is then on break."""
        svc = self.services

        async def go() -> str:
            return await sign_in_agent(svc.engine, svc.node, svc.clock, tenant_id, agent_id)

        token = self.client.portal.call(go)  # type: ignore[union-attr]
        return {"Authorization": f"Bearer {token}"}

    def api_key(self, tenant_id: str) -> dict[str, str]:
        response = self.client.post(f"/api/v1/tenants/{tenant_id}/api-keys", json={"name": "pbx"}, headers=self.admin)
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['secret']}"}

    def setup_tenant(self, tenant_id: str, agents: int = 2, offer_timeout: int = 20) -> None:
        c, h = self.client, self.admin
        assert (
            c.post("/api/v1/tenants", json={"id": tenant_id, "name": tenant_id.title()}, headers=h).status_code == 201
        )
        assert c.post(f"/api/v1/tenants/{tenant_id}/skills", json={"name": "billing"}, headers=h).status_code == 201
        for queue_id, channel in (("sales", "phone"), ("support", "chat"), ("messages", "voicemail")):
            body = {
                "id": queue_id,
                "name": queue_id.title(),
                "channel": channel,
                "offer_timeout_seconds": offer_timeout,
            }
            response = c.post(f"/api/v1/tenants/{tenant_id}/queues", json=body, headers=h)
            assert response.status_code == 201, response.text
        for n in range(1, agents + 1):
            body = {
                "id": f"agent{n}",
                "email": f"agent{n}@{tenant_id}.example",
                "display_name": f"Agent {n}",
                "queue_ids": ["sales", "support", "messages"],
                "skills": {"billing": 3},
            }
            response = c.post(f"/api/v1/tenants/{tenant_id}/agents", json=body, headers=h)
            assert response.status_code == 201, response.text


# The tests' built-in CRM, PBX and identity-provider stand-ins listen on this machine: allowed explicitly, as an
# installation with its CRM on the same host allows it (CALLBRIDGE_OUTBOUND_ALLOWED_NETWORKS).
LOCAL_SERVICES = "127.0.0.0/8,::1/128"
SERVER_START_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_DEADLINE_SECONDS", "60"))


@contextlib.contextmanager
def running_server(tmp: Path, admin_email: str, admin_password: str, **settings: Any) -> Iterator[str]:
    """A real Callbridge (uvicorn on a free loopback port, SQLite in `tmp`) with a local admin; yields its URL."""
    with running_app(tmp, admin_email, admin_password, **settings) as (base, _app):
        yield base


@contextlib.contextmanager
def running_app(tmp: Path, admin_email: str, admin_password: str, **settings: Any) -> Iterator[tuple[str, Any]]:
    """`running_server`, also yielding the app (its state holds the live services). `public_url="auto"`: the
    server's own URL, as a deployment would set it."""
    database_url = f"sqlite:///{tmp / 'callbridge.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, admin_email, admin_password)
    settings.setdefault("outbound_allowed_networks", LOCAL_SERVICES)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    if settings.get("public_url") == "auto":
        settings["public_url"] = base
    app = create_app(Settings(database_url=database_url, data_dir=tmp, **settings), engine=engine)
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # generous, and a failure says so: a busy machine may take long to start a server, and a test that went on
    # regardless would fail later with a puzzling "connection refused"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(10)
            engine.dispose()
            raise AssertionError(f"the test server on {base} was not ready within {SERVER_START_SECONDS:g} s")
        time.sleep(0.05)
    try:
        yield base, app
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def make_harness(tmp_path: Path, **settings: Any) -> Iterator[Harness]:
    database_url = f"sqlite:///{tmp_path / 'callbridge.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", "correct horse battery")
    settings.setdefault("outbound_allowed_networks", LOCAL_SERVICES)
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, **settings), engine=engine)
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": "correct horse battery"}
        ).json()["token"]
        yield Harness(client, {"Authorization": f"Bearer {token}"})
    engine.dispose()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path)
