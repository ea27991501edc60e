"""A server killed mid-traffic loses nothing it acknowledged: after a restart it is all still queued, in order."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from callbridge.auth.credentials import create_admin_user
from callbridge.store.database import make_engine, upgrade
from callbridge.store.tables import interaction_events, interactions, queues
from tests.e2e.conftest import make_harness


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CALLBRIDGE_DATABASE_URL": database_url, "CALLBRIDGE_LOG_LEVEL": "WARNING"}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "callbridge", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=output,
        )
    # a busy machine can take long to start a Python process: generous, and configurable
    deadline = time.time() + float(os.environ.get("CALLBRIDGE_TEST_SERVER_START_SECONDS", "90"))
    while time.time() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server did not start: {log.read_text()}")


@pytest.mark.slow
def test_nothing_acknowledged_is_lost_when_the_server_is_killed(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'callbridge.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", "correct horse battery")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(database_url, port, tmp_path / "server.log")
    try:
        with httpx.Client(base_url=base, timeout=5) as http:
            token = http.post(
                "/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": "correct horse battery"}
            ).json()["token"]
            admin = {"Authorization": f"Bearer {token}"}
            assert http.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=admin).status_code == 201
            queue = {"id": "sales", "name": "Sales", "channel": "phone"}
            assert http.post("/api/v1/tenants/acme/queues", json=queue, headers=admin).status_code == 201
            key = http.post("/api/v1/tenants/acme/api-keys", json={"name": "pbx"}, headers=admin).json()["secret"]

        acknowledged: list[str] = []
        stop = threading.Event()

        def traffic() -> None:
            with httpx.Client(base_url=base, timeout=2, headers={"Authorization": f"Bearer {key}"}) as http:
                n = 0
                while not stop.is_set():
                    n += 1
                    try:
                        response = http.post(
                            "/api/v1/interactions", json={"id": f"call{n:05d}", "queue_id": "sales", "channel": "phone"}
                        )
                    except httpx.HTTPError:
                        continue
                    if response.status_code == 201:
                        acknowledged.append(response.json()["id"])

        sender = threading.Thread(target=traffic)
        sender.start()
        while len(acknowledged) < 150:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-traffic: no chance to flush anything
        server.wait()
        stop.set()
        sender.join()

        server = start_server(database_url, port, tmp_path / "server.log")
        with engine.connect() as connection:
            rows = connection.execute(
                select(interactions.c.id, interactions.c.state).order_by(interactions.c.sequence)
            ).all()
        stored = [r.id for r in rows]
        assert set(acknowledged) <= set(stored), "every acknowledged interaction survived"
        assert [i for i in stored if i in set(acknowledged)] == acknowledged, "in the order they arrived"
        assert {r.state for r in rows} == {"queued"}
        with httpx.Client(base_url=base, timeout=5) as http:
            token = http.post(
                "/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": "correct horse battery"}
            ).json()["token"]
            snapshot = http.get("/api/v1/tenants/acme/snapshot", headers={"Authorization": f"Bearer {token}"}).json()
        assert snapshot["queues"]["sales"]["waiting"] == len(stored)
    finally:
        server.kill()
        server.wait()
        engine.dispose()


@pytest.mark.slow
def test_offers_that_expired_while_the_server_was_down_do_not_bench_their_agents(tmp_path: Path) -> None:
    """Two agents are offered a call each; the server is killed and the offers' deadlines pass. After the
    restart, the offers end as `node_restarted` (not missed), the agents are still available, and the calls,
    back in their place, are offered again."""
    database_url = f"sqlite:///{tmp_path / 'callbridge.db'}"
    preparing = make_harness(tmp_path)  # agents sign in through single sign-on: done in-process, then stopped
    harness = next(preparing)
    try:
        harness.setup_tenant("acme", agents=2, offer_timeout=8)
        pbx = harness.api_key("acme")
        for agent_id in ("agent1", "agent2"):
            agent = harness.sign_in("acme", agent_id)
            response = harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
            assert response.status_code == 200
    finally:
        preparing.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(database_url, port, tmp_path / "server.log")
    engine = make_engine(database_url)
    try:
        deadlines = []
        with httpx.Client(base_url=base, timeout=10, headers=pbx) as http:
            for call_id in ("call1", "call2"):
                body = {"id": call_id, "queue_id": "sales", "channel": "phone"}
                created = http.post("/api/v1/interactions", json=body).json()
                assert created["state"] == "offered"
                deadlines.append(created["offer_deadline"])
        server.send_signal(signal.SIGKILL)
        server.wait()
        while time.time() <= max(deadlines):  # the offers expire while nothing runs
            time.sleep(0.05)
        with engine.begin() as connection:  # the offers made again after the restart must not expire as well
            connection.execute(update(queues).values(offer_timeout_seconds=600))

        server = start_server(database_url, port, tmp_path / "server.log")
        with httpx.Client(base_url=base, timeout=10) as http:
            token = http.post(
                "/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": "correct horse battery"}
            ).json()["token"]
            snapshot = http.get("/api/v1/tenants/acme/snapshot", headers={"Authorization": f"Bearer {token}"}).json()
        with engine.connect() as connection:
            ended = connection.execute(
                select(interaction_events.c.interaction_id, interaction_events.c.detail).where(
                    interaction_events.c.type == "offer_ended"
                )
            ).all()
        assert sorted((row.interaction_id, row.detail["outcome"]) for row in ended) == [
            ("call1", "node_restarted"),
            ("call2", "node_restarted"),
        ]
        assert {a: (v["status"], v["reason"]) for a, v in snapshot["agents"].items()} == {
            "agent1": ("available", ""),
            "agent2": ("available", ""),
        }, "nobody could have answered while the server was down: no agent goes on break"
        again = {i["id"]: (i["state"], i["offer_id"]) for i in snapshot["interactions"].values()}
        assert again == {"call1": ("offered", "call1.2"), "call2": ("offered", "call2.2")}
    finally:
        server.kill()
        server.wait()
        engine.dispose()
