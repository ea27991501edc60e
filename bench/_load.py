"""The throughput load: interactions created -> offered -> accepted -> completed through the REST API.

WORKERS concurrent pipelines in one asyncio loop, over a fixed pool of keep-alive HTTP connections
(bench/_http.py). Pipeline w works for tenant w mod len(tenants) and repeats: `POST /api/v1/interactions`
(the tenant's API key) -> the interaction is offered in the same command, and the answer names the agent ->
that agent `POST /me/offers/{id}/accept` -> `POST /me/interactions/{id}/complete`, which makes the agent
available again. Each tenant needs more agents than pipelines, so every interaction is offered on arrival (a
create that comes back queued counts as an error).

`ceiling` runs the same pipelines, connections and loop against a trivial endpoint instead (three `GET
/healthz` a round): what this client, the HTTP path and the machine allow at most, measured beside the real
load so that a rate on a shared, noisy machine can be read as a share of it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench._http import HttpPool
from bench._server import QUEUE_ID, LoopLag, percentile, progress

HTTP_CONNECTIONS = 64


@dataclass(frozen=True, slots=True)
class TenantLoad:
    api_key: str  # the tenant's API key secret (cbk_…)
    tokens: dict[str, str]  # agent id -> session token (cbs_…)


@dataclass
class _Stats:
    measuring: bool = False
    completed: int = 0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    ms: dict[str, list[float]] = field(default_factory=dict)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(message)

    def done(self, **steps: float) -> None:
        if self.measuring:
            self.completed += 1
            for name, ms in steps.items():
                self.ms.setdefault(name, []).append(ms)


Round = Callable[[int, int], Awaitable[bool]]  # (worker, n): one interaction (or one trivial round); done?


def _interaction(http: HttpPool, tenants: list[TenantLoad], stats: _Stats) -> Round:
    run = uuid.uuid4().hex[:6]  # ids unique to this load: several loads may run on one database

    async def one(worker: int, n: int) -> bool:
        tenant = tenants[worker % len(tenants)]
        interaction_id = f"{run}w{worker}n{n}"
        body = {"id": interaction_id, "queue_id": QUEUE_ID, "channel": "phone", "from_address": "+14155550100"}
        t0 = time.perf_counter()
        created = await http.post("/api/v1/interactions", token=tenant.api_key, body=body)
        t1 = time.perf_counter()
        if created.status != 201:
            stats.error(f"create {created.status} {created.body[:200]!r}")
            return False
        view = created.json()
        if view["state"] != "offered":
            stats.error(f"create: not offered at once ({view['state']})")
            return False
        token = tenant.tokens[view["agent_id"]]
        accepted = await http.post(f"/api/v1/me/offers/{interaction_id}/accept", token=token)
        t2 = time.perf_counter()
        if accepted.status != 200:
            stats.error(f"accept {accepted.status} {accepted.body[:200]!r}")
            return False
        completed = await http.post(
            f"/api/v1/me/interactions/{interaction_id}/complete", token=token, body={"disposition": "done"}
        )
        t3 = time.perf_counter()
        if completed.status != 204:
            stats.error(f"complete {completed.status} {completed.body[:200]!r}")
            return False
        stats.done(create=(t1 - t0) * 1000, accept=(t2 - t1) * 1000, complete=(t3 - t2) * 1000)
        return True

    return one


def _trivial(http: HttpPool, stats: _Stats) -> Round:
    async def one(worker: int, n: int) -> bool:
        t0 = time.perf_counter()
        for _ in range(3):  # as many requests as an interaction
            answer = await http.request("GET", "/healthz", token="-")
            if answer.status != 200:
                stats.error(f"healthz {answer.status} {answer.body[:200]!r}")
                return False
        stats.done(request=(time.perf_counter() - t0) * 1000 / 3)
        return True

    return one


async def run_load(
    base_url: str,
    tenants: list[TenantLoad],
    *,
    workers: int,
    seconds: float,
    warmup: float,
    server_cpu: Callable[[], float],
    ceiling: bool = False,
    connections: int = HTTP_CONNECTIONS,
) -> dict[str, Any]:
    """Runs the load for `warmup` then `seconds` (measured); `server_cpu` (called in a thread) is the CPU
    seconds every server process has used so far."""
    stats = _Stats()
    stop = asyncio.Event()
    http = HttpPool(base_url, size=connections)
    one = _trivial(http, stats) if ceiling else _interaction(http, tenants, stats)

    async def pipeline(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            if not await one(worker, n):
                await asyncio.sleep(0.01)  # an error answered at once (a 503): do not spin

    lag = LoopLag()
    lag.start()
    tasks = [asyncio.create_task(pipeline(w)) for w in range(workers)]
    try:
        await asyncio.sleep(warmup)
        cpu_before = await asyncio.to_thread(server_cpu)
        stats.measuring = True
        begin = time.perf_counter()
        for _ in range(int(seconds)):
            await asyncio.sleep(1)
            progress(f"{stats.completed} {'rounds' if ceiling else 'completed'}, {stats.errors} errors")
        stats.measuring = False
        elapsed = time.perf_counter() - begin
        cpu = await asyncio.to_thread(server_cpu) - cpu_before
        stop.set()
        await asyncio.wait(tasks, timeout=10)
    finally:
        for task in tasks:
            task.cancel()
        await lag.stop()
        await http.aclose()
    latencies = {
        f"{name}_p{q}_ms": round(percentile(values, q), 2) for name, values in stats.ms.items() for q in (50, 99)
    }
    return {
        "interactions_per_s": round(stats.completed / elapsed, 1),
        "completed": stats.completed,
        "seconds": round(elapsed, 1),
        "tenants": len(tenants),
        "agents": sum(len(t.tokens) for t in tenants),
        "workers": workers,
        "http_connections": connections,
        "requests_per_s": round(3 * stats.completed / elapsed, 1),
        # what the server processes spend per interaction, whatever else the machine was running
        "server_cpu_ms_per_interaction": round(1000 * cpu / max(1, stats.completed), 3),
        "server_cpu_share": round(cpu / elapsed, 2),
        **latencies,
        "errors": stats.errors,
        **lag.summary(),
        **({"first_errors": stats.first_errors} if stats.first_errors else {}),
    }
