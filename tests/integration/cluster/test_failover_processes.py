"""Two `callbridge serve` processes on one PostgreSQL database. The node holding a tenant is paused
(SIGSTOP) past its lease: the other takes the tenant over and serves it; the paused node, woken
(SIGCONT), writes nothing and steps down. Then a graceful stop hands the tenant over at once, and a node
killed outright loses it after its lease."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from bench import _cluster_nodes as nodes
from bench._cluster_nodes import free_port, held
from sqlalchemy import select

from callbridge.auth.credentials import create_admin_user
from callbridge.store.database import make_engine, upgrade
from callbridge.store.tables import interaction_events, interactions
from tests.integration.cluster.conftest import DEADLINE_SECONDS

LEASE_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_LEASE_SECONDS", "2"))
# how much later than the lease's expiry a takeover may come on a busy machine (rounds, loading, scheduling)
TAKEOVER_MARGIN_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_TAKEOVER_MARGIN_SECONDS", "15"))
START_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_SERVER_START_SECONDS", "90"))
PASSWORD = "correct horse battery"


def start_node(
    database_url: str, name: str, port: int, data_dir: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return nodes.start_node(
        database_url, name, port, data_dir, extra, lease_seconds=LEASE_SECONDS, start_seconds=START_SECONDS
    )


def stop_node(process: subprocess.Popen[bytes]) -> None:
    nodes.stop_node(process, timeout=DEADLINE_SECONDS)


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE_SECONDS) -> float:
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > deadline:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.02)


def metric(base: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", httpx.get(f"{base}/metrics", timeout=5).text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def call(base: str, key: str, call_id: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/interactions",
        json={"id": call_id, "queue_id": "sales", "channel": "phone"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


@pytest.mark.slow
def test_a_paused_holder_loses_its_tenant_and_writes_nothing_when_it_wakes(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", PASSWORD)
    port_a, port_b = free_port(), free_port()
    a_url, b_url = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    a = start_node(database_url, "node-a", port_a, tmp_path / "a")
    b: subprocess.Popen[bytes] | None = None
    try:
        with httpx.Client(base_url=a_url, timeout=10) as http:
            token = http.post("/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD})
            admin = {"Authorization": f"Bearer {token.json()['token']}"}
            assert http.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=admin).status_code == 201
            wait_for(lambda: "acme" in held(a_url), "node A to take the new tenant")
            queue = {"id": "sales", "name": "Sales", "channel": "phone"}
            assert http.post("/api/v1/tenants/acme/queues", json=queue, headers=admin).status_code == 201
            key = http.post("/api/v1/tenants/acme/api-keys", json={"name": "pbx"}, headers=admin).json()["secret"]

        b = start_node(database_url, "node-b", port_b, tmp_path / "b")
        wait_for(lambda: len(httpx.get(f"{a_url}/readyz", timeout=2).json()["cluster"]["nodes"]) == 2, "A to see B")
        assert held(b_url) == {}, "the tenant stays where it is: one tenant, two nodes, A within its share"
        assert call(a_url, key, "call1").status_code == 201
        refused = call(b_url, key, "call0")
        assert refused.status_code == 503
        assert refused.json()["error"] == "tenant_moved"
        assert "node-a" in refused.json()["message"]
        assert refused.headers["Callbridge-Tenant-Node"] == "node-a"
        epoch_a = held(a_url)["acme"]["epoch"]

        a.send_signal(signal.SIGSTOP)  # a long GC pause, a frozen VM: A cannot renew, and does not know it
        takeover = wait_for(
            lambda: "acme" in held(b_url), "node B to take the tenant over", LEASE_SECONDS + TAKEOVER_MARGIN_SECONDS
        )
        print(f"\ntakeover after SIGSTOP: {takeover:.2f} s (lease {LEASE_SECONDS} s)")  # noqa: T201
        assert held(b_url)["acme"]["epoch"] > epoch_a
        with engine.connect() as connection:
            last_event = connection.execute(
                select(interaction_events.c.id).order_by(interaction_events.c.id.desc())
            ).first()
        assert call(b_url, key, "call2").status_code == 201, "B serves the tenant"
        assert metric(b_url, 'callbridge_leases_taken_total{kind="takeover"}') == 1

        a.send_signal(signal.SIGCONT)
        stale = call(a_url, key, "stale1")  # A still thinks it runs the tenant, or has just found out
        assert stale.status_code == 503, stale.text
        assert stale.json()["error"] == "tenant_moved"
        assert "node-b" in stale.json()["message"], "the refusal names the node that holds the tenant now"
        wait_for(lambda: held(a_url) == {}, "A to step down")
        wait_for(lambda: len(httpx.get(f"{b_url}/readyz", timeout=2).json()["cluster"]["nodes"]) == 2, "A rejoined")
        assert call(a_url, key, "stale2").status_code == 503
        assert "node-b" in call(a_url, key, "stale3").json()["message"]
        assert call(b_url, key, "call3").status_code == 201, "B still runs the tenant: it did not move back"

        with engine.connect() as connection:
            ids = set(connection.execute(select(interactions.c.id)).scalars())
            since = select(interaction_events.c.interaction_id).where(interaction_events.c.id > last_event.id)
            written_since = set(connection.execute(since).scalars())
        assert ids == {"call1", "call2", "call3"}, "nothing A was asked after the takeover was written"
        assert written_since == {"call2", "call3"}, "every event after the takeover is one of B's"

        # a graceful stop hands the tenant over at once, not after the lease
        b.terminate()
        stopped = time.monotonic()
        b.wait(timeout=DEADLINE_SECONDS)
        wait_for(lambda: "acme" in held(a_url), "A to take the tenant B handed over")
        handover_after_stop = time.monotonic() - stopped
        print(f"hand-over after a graceful stop: {handover_after_stop:.2f} s")  # noqa: T201
        assert call(a_url, key, "call4").status_code == 201
        assert metric(a_url, 'callbridge_leases_taken_total{kind="free"}') == 2, "released, not expired"

        # a node killed outright: the survivor takes over after the lease
        b = start_node(database_url, "node-b", port_b, tmp_path / "b")
        wait_for(lambda: len(httpx.get(f"{a_url}/readyz", timeout=2).json()["cluster"]["nodes"]) == 2, "B rejoined")
        a.kill()
        a.wait()
        failover = wait_for(
            lambda: "acme" in held(b_url),
            "B to take the tenant over from a dead A",
            LEASE_SECONDS + TAKEOVER_MARGIN_SECONDS,
        )
        print(f"takeover after kill -9: {failover:.2f} s (lease {LEASE_SECONDS} s)")  # noqa: T201
        assert call(b_url, key, "call5").status_code == 201
        with engine.connect() as connection:
            ids = set(connection.execute(select(interactions.c.id)).scalars())
        assert ids == {"call1", "call2", "call3", "call4", "call5"}
    finally:
        for process in (a, b):
            if process is not None:
                stop_node(process)
        engine.dispose()
