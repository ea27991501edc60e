"""Several nodes: the cost of forwarding, and failover under traffic.

Set-up: three `python -m callbridge serve` processes on one fresh PostgreSQL database and one NATS bus
(BENCH_PG_URL or CALLBRIDGE_TEST_PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test;
BENCH_NATS_URL, default nats://127.0.0.1:4222), lease BENCH_LEASE_SECONDS (default 2). One tenant with a
phone queue and one agent signed in.

Forwarding: the same read (`GET /api/v1/me`) from one client, alternating between the node holding the
tenant (the ceiling: no forwarding) and a node that forwards it over NATS. `forward_p50_ms` and
`forward_p99_ms` are the differences of the two's percentiles (the hop's cost); the absolute figures and
`ratio_to_ceiling` (median through another node / median on the holder) are reported beside them.

Failover: a PBX sends calls (its own ids, each retried until a definite answer: 201, or 409 "already
exists" on a retry) through the two nodes that do not hold the tenant; the holder is killed (SIGKILL)
KILLS times, and restarted after each. `failover_s` per kill: from the kill to the first call another node
acknowledges. `lost`: acknowledged calls not stored; `duplicated`: calls with more than one `created`
event.

Not measured here (yet): interactions per second with one and with three nodes through the balancer, and
the server's CPU per interaction in a cluster (bench/throughput.py measures one node).
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from bench._server import percentile, progress
from callbridge.auth.credentials import create_admin_user, create_session
from callbridge.store.database import make_engine, upgrade
from callbridge.store.tables import agents, interaction_events, interactions

FULL = {"reads": 2000, "kills": 20}
QUICK = {"reads": 300, "kills": 3}
PG_URL = os.environ.get(
    "BENCH_PG_URL", os.environ.get("CALLBRIDGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
)
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
LEASE_SECONDS = float(os.environ.get("BENCH_LEASE_SECONDS", "2"))
DEADLINE_SECONDS = float(os.environ.get("BENCH_DEADLINE_SECONDS", "60"))
PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throw-away database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Nodes:
    def __init__(self, database_url: str, workdir: Path) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.database_url = database_url
        self.workdir = workdir
        self.names = [f"bench-{n}-{suffix}" for n in "abc"]
        self.ports = [_free_port() for _ in self.names]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.processes: list[subprocess.Popen[bytes] | None] = [None, None, None]
        self.holder_cache: int | None = None  # where the traffic thread should not send (the holder)

    def start(self, n: int) -> None:
        env = {
            **os.environ,
            "CALLBRIDGE_DATABASE_URL": self.database_url,
            "CALLBRIDGE_CLUSTER_ENABLED": "true",
            "CALLBRIDGE_BUS_URL": NATS_URL,
            "CALLBRIDGE_NODE_ID": self.names[n],
            "CALLBRIDGE_LEASE_SECONDS": str(LEASE_SECONDS),
            "CALLBRIDGE_SECRET_KEY": "the-same-secret-on-every-node-of-this-bench",
            "CALLBRIDGE_DATA_DIR": str(self.workdir / self.names[n]),
            "CALLBRIDGE_LOG_LEVEL": "WARNING",
            "CALLBRIDGE_HEARTBEAT_TIMEOUT_SECONDS": "3600",
        }
        (self.workdir / self.names[n]).mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"{self.names[n]}.log").open("ab")
        self.processes[n] = subprocess.Popen(
            [sys.executable, "-m", "callbridge", "serve", "--port", str(self.ports[n])], env=env, stdout=log, stderr=log
        )
        _wait(lambda: httpx.get(f"{self.urls[n]}/readyz", timeout=2).status_code == 200, f"{self.names[n]} to start")

    def stop(self, n: int, *, kill: bool = False) -> None:
        process = self.processes[n]
        if process is None:
            return
        if kill:
            process.send_signal(signal.SIGKILL)
        else:
            process.terminate()
        try:
            process.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.processes[n] = None

    def holder(self) -> int | None:
        for n, url in enumerate(self.urls):
            if self.processes[n] is None:
                continue
            try:
                if "acme" in httpx.get(f"{url}/readyz", timeout=2).json().get("cluster", {}).get("tenants", {}):
                    return n
            except (httpx.HTTPError, ValueError):
                continue
        return None


def _wait(condition: Any, what: str, deadline: float = DEADLINE_SECONDS) -> float:
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > deadline:
            raise RuntimeError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.01)


def _provision(nodes: _Nodes) -> tuple[dict[str, str], dict[str, str]]:
    engine = make_engine(nodes.database_url)
    upgrade(engine)
    create_admin_user(engine, "bench@example.com", PASSWORD)
    nodes.start(0)
    with httpx.Client(base_url=nodes.urls[0], timeout=10) as http:
        token = http.post("/api/v1/auth/admin-sessions", json={"email": "bench@example.com", "password": PASSWORD})
        admin = {"Authorization": f"Bearer {token.json()['token']}"}
        http.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=admin).raise_for_status()
        _wait(lambda: nodes.holder() == 0, "the first node to take the tenant")
        queue = {"id": "sales", "name": "Sales", "channel": "phone", "offer_timeout_seconds": 600}
        http.post("/api/v1/tenants/acme/queues", json=queue, headers=admin).raise_for_status()
        agent = {"id": "agent1", "email": "agent1@acme.example", "display_name": "Agent 1", "queue_ids": ["sales"]}
        http.post("/api/v1/tenants/acme/agents", json=agent, headers=admin).raise_for_status()
        key = http.post("/api/v1/tenants/acme/api-keys", json={"name": "pbx"}, headers=admin).json()["secret"]
    nodes.stop(0)
    with engine.begin() as connection:
        connection.execute(update(agents).values(presence="break", status="break"))
    session = create_session(engine, "agent", "agent1", "acme", time.time())
    engine.dispose()
    for n in range(3):
        nodes.start(n)
    _wait(lambda: nodes.holder() is not None, "a node to take the tenant")
    return {"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {session}"}


def _forwarding(nodes: _Nodes, agent: dict[str, str], reads: int) -> dict[str, float]:
    holder = nodes.holder()
    assert holder is not None
    other = nodes.urls[(holder + 1) % 3]
    _wait(lambda: httpx.get(f"{other}/api/v1/me", headers=agent, timeout=10).status_code == 200, "forwarding")
    here: list[float] = []
    there: list[float] = []
    with httpx.Client(timeout=10, headers=agent) as http:
        for _ in range(reads):
            for base, into in ((nodes.urls[holder], here), (other, there)):
                started = time.perf_counter()
                http.get(f"{base}/api/v1/me").raise_for_status()
                into.append((time.perf_counter() - started) * 1000)
    return {
        "forward_p50_ms": round(statistics.median(there) - statistics.median(here), 3),
        "forward_p99_ms": round(percentile(there, 99) - percentile(here, 99), 3),
        "holder_read_p50_ms": round(statistics.median(here), 3),
        "holder_read_p99_ms": round(percentile(here, 99), 3),
        "forwarded_read_p50_ms": round(statistics.median(there), 3),
        "forwarded_read_p99_ms": round(percentile(there, 99), 3),
        "ratio_to_ceiling": round(statistics.median(there) / statistics.median(here), 3),
    }


def _failover(nodes: _Nodes, pbx: dict[str, str], kills: int) -> dict[str, Any]:
    acknowledged: list[tuple[str, float]] = []
    stop = threading.Event()
    errors: list[str] = []

    def traffic() -> None:
        with httpx.Client(timeout=30, headers=pbx) as http:
            n = 0
            while not stop.is_set():
                n += 1
                call_id = f"call{n}"
                end = time.monotonic() + DEADLINE_SECONDS
                while time.monotonic() < end:
                    holder = nodes.holder_cache
                    base = nodes.urls[(holder + 1 + n % 2) % 3] if holder is not None else nodes.urls[n % 3]
                    try:
                        answer = http.post(
                            f"{base}/api/v1/interactions", json={"id": call_id, "queue_id": "sales", "channel": "phone"}
                        )
                    except httpx.HTTPError:
                        time.sleep(0.01)
                        continue
                    if answer.status_code == 201 or (answer.status_code == 409 and answer.json().get("field") == "id"):
                        acknowledged.append((call_id, time.monotonic()))
                        break
                    time.sleep(0.01)
                else:
                    errors.append(call_id)

    nodes.holder_cache = nodes.holder()
    sender = threading.Thread(target=traffic)
    sender.start()
    failovers: list[float] = []
    try:
        for kill in range(kills):
            holder = nodes.holder()
            assert holder is not None
            nodes.holder_cache = holder
            _wait(lambda: len(acknowledged) > 5, "traffic")
            nodes.stop(holder, kill=True)
            killed_at = time.monotonic()
            _wait(lambda k=killed_at: any(at > k for _, at in acknowledged), "a call acknowledged after the kill")
            failovers.append(next(at for _, at in acknowledged if at > killed_at) - killed_at)
            progress(f"kill {kill + 1}/{kills}: calls acknowledged again after {failovers[-1]:.2f} s")
            new_holder = nodes.holder()
            nodes.holder_cache = new_holder
            nodes.start(holder)
    finally:
        stop.set()
        sender.join(timeout=DEADLINE_SECONDS * 2)
    engine = make_engine(nodes.database_url)
    try:
        with engine.connect() as connection:
            stored = set(connection.execute(select(interactions.c.id)).scalars())
            created = connection.execute(
                select(interaction_events.c.interaction_id, func.count())
                .where(interaction_events.c.type == "created")
                .group_by(interaction_events.c.interaction_id)
            ).all()
    finally:
        engine.dispose()
    ids = [i for i, _ in acknowledged]
    return {
        "failover_p50_s": round(statistics.median(failovers), 3),
        "failover_p99_s": round(percentile(failovers, 99), 3),
        "failover_max_s": round(max(failovers), 3),
        "kills": kills,
        "calls_acknowledged": len(ids),
        "lost": len(set(ids) - stored),
        "duplicated": sum(1 for _, count in created if count > 1) + (len(ids) - len(set(ids))),
        "unanswered": len(errors),
    }


def run(quick: bool) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    name = f"cb_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    workdir = Path(tempfile.mkdtemp(prefix="callbridge-bench-cluster-"))
    nodes = _Nodes(url, workdir)
    try:
        progress("provisioning and starting three nodes")
        pbx, agent = _provision(nodes)
        progress(f"forwarding: {sizes['reads']} reads on the holder and through another node")
        result: dict[str, Any] = {"nodes": 3, "lease_seconds": LEASE_SECONDS}
        result.update(_forwarding(nodes, agent, sizes["reads"]))
        progress(f"failover: {sizes['kills']} kills of the holder under traffic")
        result.update(_failover(nodes, pbx, sizes["kills"]))
        return result
    finally:
        for n in range(3):
            nodes.stop(n)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
