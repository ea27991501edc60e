"""Throughput: interactions created -> offered -> accepted -> completed through the REST API, per second.

Set-up: a real server (`python -m callbridge serve`, SQLite file, its own
process, loopback only; see bench/_server.py) with one tenant, one phone
queue and AGENTS agents signed in and available.

Load: WORKERS concurrent pipelines in one asyncio loop, over a fixed pool of
keep-alive HTTP connections (bench/_http.py). Each pipeline repeats:
`POST /api/v1/interactions` (API key) -> the interaction is offered in the same
command, and the answer names the agent -> that agent `POST
/me/offers/{id}/accept` -> `POST /me/interactions/{id}/complete`, which makes
the agent available again. Steady state: there are more agents than
pipelines, so every interaction is offered on arrival (a create that comes
back queued counts as an error). No agent consoles are connected (offer
delivery over WebSockets is what `offer_latency` measures), so the server
runs with a heartbeat timeout longer than the run.

Result: interactions completed per second during the measured window (after
a warm-up), with per-request latencies, the server's CPU time per interaction (from its
/metrics; unlike the rate, it does not depend on what else the machine runs) and the load
generator's own loop lag.
Environment BENCH_AGENTS, BENCH_WORKERS and BENCH_SECONDS override the sizes.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._http import HttpPool
from bench._server import (
    QUEUE_ID,
    LoopLag,
    commit_summary,
    percentile,
    progress,
    provision,
    serve,
    server_cpu_seconds,
)

FULL = {"agents": 400, "workers": 128, "seconds": 20.0, "warmup": 2.0}
QUICK = {"agents": 200, "workers": 64, "seconds": 5.0, "warmup": 1.0}
HTTP_CONNECTIONS = 64


@dataclass
class _Stats:
    measuring: bool = False
    completed: int = 0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    create_ms: list[float] = field(default_factory=list)
    accept_ms: list[float] = field(default_factory=list)
    complete_ms: list[float] = field(default_factory=list)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(message)


async def _pipeline(
    worker: int, http: HttpPool, api_key: str, tokens: dict[str, str], stats: _Stats, stop: asyncio.Event
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        interaction_id = f"w{worker}n{n}"
        body = {"id": interaction_id, "queue_id": QUEUE_ID, "channel": "phone", "from_address": "+14155550100"}
        t0 = time.perf_counter()
        created = await http.post("/api/v1/interactions", token=api_key, body=body)
        t1 = time.perf_counter()
        if created.status != 201:
            stats.error(f"create {created.status} {created.body[:200]!r}")
            continue
        view = created.json()
        if view["state"] != "offered":
            stats.error(f"create: not offered at once ({view['state']})")
            continue
        token = tokens[view["agent_id"]]
        accepted = await http.post(f"/api/v1/me/offers/{interaction_id}/accept", token=token)
        t2 = time.perf_counter()
        if accepted.status != 200:
            stats.error(f"accept {accepted.status} {accepted.body[:200]!r}")
            continue
        completed = await http.post(
            f"/api/v1/me/interactions/{interaction_id}/complete", token=token, body={"disposition": "done"}
        )
        t3 = time.perf_counter()
        if completed.status != 204:
            stats.error(f"complete {completed.status} {completed.body[:200]!r}")
            continue
        if stats.measuring:
            stats.completed += 1
            stats.create_ms.append((t1 - t0) * 1000)
            stats.accept_ms.append((t2 - t1) * 1000)
            stats.complete_ms.append((t3 - t2) * 1000)


async def _load(base_url: str, api_key: str, tokens: dict[str, str], p: dict[str, float]) -> dict[str, Any]:
    stats = _Stats()
    stop = asyncio.Event()
    http = HttpPool(base_url, size=HTTP_CONNECTIONS)
    lag = LoopLag()
    lag.start()
    workers = [asyncio.create_task(_pipeline(w, http, api_key, tokens, stats, stop)) for w in range(int(p["workers"]))]
    try:
        await asyncio.sleep(p["warmup"])
        cpu_before = await asyncio.to_thread(server_cpu_seconds, base_url)
        stats.measuring = True
        begin = time.perf_counter()
        for _ in range(int(p["seconds"])):
            await asyncio.sleep(1)
            progress(f"{stats.completed} completed, {stats.errors} errors")
        stats.measuring = False
        elapsed = time.perf_counter() - begin
        server_cpu = await asyncio.to_thread(server_cpu_seconds, base_url) - cpu_before
        stop.set()
        await asyncio.wait(workers, timeout=10)
    finally:
        for task in workers:
            task.cancel()
        await lag.stop()
        await http.aclose()
    return {
        "interactions_per_s": round(stats.completed / elapsed, 1),
        "completed": stats.completed,
        "seconds": round(elapsed, 1),
        "agents": len(tokens),
        "workers": int(p["workers"]),
        "http_connections": HTTP_CONNECTIONS,
        "requests_per_s": round(3 * stats.completed / elapsed, 1),
        # what one node can do per core, whatever else the machine was running
        "server_cpu_ms_per_interaction": round(1000 * server_cpu / max(1, stats.completed), 3),
        "server_cpu_share": round(server_cpu / elapsed, 2),
        "create_p50_ms": round(percentile(stats.create_ms, 50), 2),
        "create_p99_ms": round(percentile(stats.create_ms, 99), 2),
        "accept_p50_ms": round(percentile(stats.accept_ms, 50), 2),
        "accept_p99_ms": round(percentile(stats.accept_ms, 99), 2),
        "complete_p50_ms": round(percentile(stats.complete_ms, 50), 2),
        "complete_p99_ms": round(percentile(stats.complete_ms, 99), 2),
        "errors": stats.errors,
        **lag.summary(),
        **({"first_errors": stats.first_errors} if stats.first_errors else {}),
    }


def run(quick: bool) -> dict[str, Any]:
    p = dict(QUICK if quick else FULL)
    for key in p:
        if (value := os.environ.get(f"BENCH_{key.upper()}")) is not None:
            p[key] = float(value)
    with tempfile.TemporaryDirectory(prefix="callbridge-bench-") as tmp:
        directory = Path(tmp)
        progress(f"provisioning {int(p['agents'])} agents")
        provisioned = provision(directory, 1, int(p["agents"]))
        api_key = next(iter(provisioned.api_keys.values()))
        tokens = {a.agent_id: a.token for a in provisioned.agents}
        load_before = os.getloadavg()[0]
        # no consoles are connected: agents must not be put on break for silence during the run
        with serve(directory, provisioned.database_url, heartbeat_timeout_seconds="3600") as (base_url, _pid):
            progress(f"load generator pid {os.getpid()}")
            result = asyncio.run(_load(base_url, api_key, tokens, p))
            result["server"] = commit_summary(base_url)
    return {
        "benchmark": "throughput",
        "quick": quick,
        **result,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
