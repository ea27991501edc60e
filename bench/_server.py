"""A real Callbridge server for benchmarks: provisioned in-process, then served by its own process.

Provisioning (tenants, a phone queue, agents, API keys) goes through the admin
API of an in-process app. Agents are signed in the way single sign-on does it
(`sign_in_agent`, which needs the node, hence in-process) and made available.
That process then stops; everything it did is in the SQLite file. The server
under test is `python -m callbridge serve` on that file, in its own process:
on start it restores the agents as they were (signed in, available), so the
benchmark only talks to it over loopback HTTP and WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from callbridge.auth.credentials import create_admin_user
from callbridge.config import Settings
from callbridge.domain import commands as cmd
from callbridge.domain.model import AgentStatus
from callbridge.services.agent_sessions import sign_in_agent
from callbridge.store.database import make_engine, upgrade
from callbridge.web.app import create_app
from callbridge.web.deps import Services

ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throw-away database
QUEUE_ID = "sales"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class AgentLogin:
    tenant_id: str
    agent_id: str
    token: str  # a session token (cbs_…)


@dataclass(frozen=True, slots=True)
class Provisioned:
    database_url: str
    api_keys: dict[str, str]  # tenant id -> API key secret (cbk_…)
    agents: list[AgentLogin]


def provision(
    directory: Path,
    tenants: int,
    agents_per_tenant: int,
    offer_timeout_seconds: int = 30,
    configure: Callable[[TestClient, dict[str, str], str], None] | None = None,
    database_url: str | None = None,
) -> Provisioned:
    """Creates the tenants with one phone queue each, their agents, signed in and available; `configure`
    (client, admin headers, tenant id) adds what a benchmark needs beyond that, through the same admin API.
    The database: a SQLite file in `directory`, or `database_url` (an empty PostgreSQL database for a cluster)."""
    database_url = database_url or f"sqlite:///{directory / 'callbridge.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD)
    app = create_app(Settings(database_url=database_url, data_dir=directory), engine=engine)
    api_keys: dict[str, str] = {}
    agents: list[AgentLogin] = []
    with TestClient(app) as client:
        session = client.post("/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        admin = {"Authorization": f"Bearer {session.json()['token']}"}
        svc: Services = app.state.services
        for t in range(1, tenants + 1):
            tenant_id = f"tenant{t}"
            _ok(client.post("/api/v1/tenants", json={"id": tenant_id, "name": f"Tenant {t}"}, headers=admin))
            queue = {
                "id": QUEUE_ID,
                "name": "Sales",
                "channel": "phone",
                "offer_timeout_seconds": offer_timeout_seconds,
            }
            _ok(client.post(f"/api/v1/tenants/{tenant_id}/queues", json=queue, headers=admin))
            key = _ok(client.post(f"/api/v1/tenants/{tenant_id}/api-keys", json={"name": "bench"}, headers=admin))
            api_keys[tenant_id] = key["secret"]
            agent_ids = [f"agent{n}" for n in range(1, agents_per_tenant + 1)]
            for agent_id in agent_ids:
                body = {
                    "id": agent_id,
                    "email": f"{agent_id}@{tenant_id}.example",
                    "display_name": agent_id.title(),
                    "queue_ids": [QUEUE_ID],
                }
                _ok(client.post(f"/api/v1/tenants/{tenant_id}/agents", json=body, headers=admin))
            tokens = client.portal.call(_sign_in_all, svc, tenant_id, agent_ids)  # type: ignore[union-attr]
            agents.extend(AgentLogin(tenant_id, a, tok) for a, tok in zip(agent_ids, tokens, strict=True))
            if configure is not None:
                configure(client, admin, tenant_id)
            progress(f"provisioned {tenant_id}: {len(agent_ids)} agents signed in and available")
    engine.dispose()
    return Provisioned(database_url, api_keys, agents)


async def _sign_in_all(svc: Services, tenant_id: str, agent_ids: list[str]) -> list[str]:
    """What single sign-on does for each agent; then the agent goes available."""

    async def one(agent_id: str) -> str:
        token = await sign_in_agent(svc.engine, svc.node, svc.clock, tenant_id, agent_id)
        await svc.node.execute(tenant_id, cmd.SetPresence(agent_id, AgentStatus.AVAILABLE))
        return token

    return list(await asyncio.gather(*(one(a) for a in agent_ids)))


def _ok(response: httpx.Response) -> dict[str, str]:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    body: dict[str, str] = response.json()
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(directory: Path, database_url: str, port: int = 0, **settings: str) -> Iterator[tuple[str, int]]:
    """Runs `python -m callbridge serve` on loopback (on `port`, else a free one); yields (base URL, server pid)."""
    port = port or free_port()
    env = {
        **os.environ,
        "CALLBRIDGE_DATABASE_URL": database_url,
        "CALLBRIDGE_DATA_DIR": str(directory),
        "CALLBRIDGE_LOG_LEVEL": "WARNING",
        # every simulated agent and customer connects from this machine: the per-address limits would measure
        # themselves (1,000 agents' WebSockets open within seconds)
        "CALLBRIDGE_RATE_LIMIT_ANONYMOUS": "1000000/minute",
        **{f"CALLBRIDGE_{k.upper()}": v for k, v in settings.items()},
    }
    command = [sys.executable, "-m", "callbridge", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log_file = (directory / "server.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)  # noqa: S603
    base_url = f"http://127.0.0.1:{port}"
    try:
        # a loaded machine (CI, several runs side by side) may take longer than the usual few seconds to start
        deadline = time.monotonic() + float(os.environ.get("BENCH_SERVER_START_SECONDS", "30"))
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited ({process.returncode}); see {directory / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not become ready in time (BENCH_SERVER_START_SECONDS)")
            time.sleep(0.1)
        progress(f"server pid {process.pid} on {base_url}")
        yield base_url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class LoopLag:
    """How late the load generator's own event loop wakes up (if it lags, it is the bottleneck)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            self.samples.append((loop.time() - before - self.interval) * 1000)

    def summary(self) -> dict[str, float]:
        return {
            "client_loop_lag_p99_ms": round(percentile(self.samples, 99), 2),
            "client_loop_lag_max_ms": round(max(self.samples, default=0.0), 2),
        }


def server_cpu_seconds(base_url: str) -> float:
    """CPU time the server process has used so far (all its threads), from its own /metrics.

    CPU per interaction does not depend on what else the machine is running, unlike interactions per second."""
    for line in httpx.get(f"{base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.rsplit(" ", 1)[1])
    return float("nan")


def commit_summary(base_url: str) -> dict[str, Any]:
    """The server's own view of its group commits (from /metrics): how many, how big, how slow."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    buckets: dict[str, float] = {}
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("callbridge_commit_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[le] = float(line.rsplit(" ", 1)[1])
        elif line.startswith(("callbridge_commit_seconds_", "callbridge_batch_size_")):
            name, value = line.rsplit(" ", 1)
            sums[name] = float(value)
    commits = sums.get("callbridge_commit_seconds_count", 0.0)
    slow = {
        f"commits_over_{le}s": int(commits - count) for le, count in buckets.items() if le in ("0.02", "0.05", "0.1")
    }
    return {
        "commits": int(commits),
        "commit_mean_ms": round(1000 * sums.get("callbridge_commit_seconds_sum", 0.0) / commits, 2) if commits else 0,
        "batch_mean": round(
            sums.get("callbridge_batch_size_sum", 0.0) / max(1.0, sums.get("callbridge_batch_size_count", 0.0)), 2
        ),
        **slow,
    }
