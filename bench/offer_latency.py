"""Offer latency: from the API call that creates an interaction to the offer frame at the agent's socket.

Set-up: a real server (`python -m callbridge serve`, SQLite file, its own
process, loopback only; see bench/_server.py) whose agents are signed in and
available. The load generator (one asyncio loop in this process) opens one
event WebSocket per agent, pings on each at half the heartbeat interval the
server announces, and creates interactions through `POST /api/v1/interactions`
at a steady rate, paced on a schedule (each call is its own task, so a slow
answer never delays the next call).

Steady state: an agent that is offered an interaction accepts it at once
(`POST /me/offers/{id}/accept`), talks for TALK, and completes it
(`POST /me/interactions/{id}/complete`), which makes the agent available
again. TALK is chosen so that about half of the agents are busy at any time
(TALK = 0.5 * agents / rate): there is always a free agent, so every
interaction is offered on arrival and the latency is the offer path itself,
not queueing. Only interactions created after a warm-up are measured, and
the run ends with a bounded drain.

Latency = arrival of the `interaction.changed` frame with state "offered"
for that agent - the moment just before the create call is sent; both are
read from this process's monotonic clock. The ceiling, measured in the same
run by the same client while the load runs: the round trip of the empty route
(`GET /healthz` on the same connections) plus that of a WebSocket echo (the
agents' own pings and their pongs); `ratio_to_ceiling` is the offer's p50 over
the sum of the two p50s, the figure to quote on a noisy machine. The load generator's own event-loop
lag is measured alongside (a sleeping task's oversleep): if it is large, the
numbers include the generator's delay. Clients do not ask for permessage-
deflate, to keep the generator cheap.

Every agent receives its colleagues' presence changes and its queue's
summaries, so each interaction fans out to every agent of its tenant: about
four frames per agent of the tenant (offer and completion each change the
agent's status and the queue's ready count). One tenant of 1,000 agents at
100/s would be some 400,000 frames/s, more than one process can send or this
generator can read, so the agents are spread over TENANTS tenants (100 of 10
agents: a node hosting many contact centers). Environment BENCH_TENANTS,
BENCH_AGENTS, BENCH_RATE and BENCH_SECONDS override the sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench._http import HttpPool
from bench._server import QUEUE_ID, AgentLogin, LoopLag, commit_summary, percentile, progress, provision, serve

FULL = {"agents": 1000, "tenants": 100, "rate": 100.0, "seconds": 30.0, "warmup": 3.0}
HTTP_CONNECTIONS = 64  # keep-alive connections shared by the integration and the agents
QUICK = {"agents": 200, "tenants": 20, "rate": 100.0, "seconds": 6.0, "warmup": 1.0}


@dataclass
class _Stats:
    sent_at: dict[str, float] = field(default_factory=dict)  # interaction id -> before the create call
    measured: set[str] = field(default_factory=set)  # ids created after the warm-up
    latencies_ms: list[float] = field(default_factory=list)
    offered: set[str] = field(default_factory=set)
    frames: int = 0
    http_errors: int = 0
    disconnects: int = 0
    completed: int = 0
    errors: list[str] = field(default_factory=list)
    pings_sent: dict[tuple[str, int], float] = field(default_factory=dict)  # (agent, frame id) -> sent at
    echo_ms: list[float] = field(default_factory=list)  # ping -> pong on the agents' own sockets
    http_ceiling_ms: list[float] = field(default_factory=list)  # GET /healthz on the same connections
    ceiling_on: bool = False  # only while measuring

    def error(self, message: str) -> None:
        self.http_errors += 1
        if len(self.errors) < 5:
            self.errors.append(message)


class _Agent:
    def __init__(self, login: AgentLogin, http: HttpPool, stats: _Stats, talk_seconds: float) -> None:
        self.login = login
        self.http = http
        self.stats = stats
        self.talk_seconds = talk_seconds
        self.socket: ClientConnection | None = None
        self.heartbeat = 10.0
        self.tasks: set[asyncio.Task[None]] = set()

    async def connect(self, ws_url: str) -> None:
        response = await self.http.post("/api/v1/realtime/tickets", token=self.login.token)
        if response.status != 201:
            raise RuntimeError(f"ticket: {response.status} {response.body[:200]!r}")
        ticket = response.json()["ticket"]
        self.socket = await connect(f"{ws_url}/api/v1/realtime?ticket={ticket}", compression=None, max_size=None)
        init = json.loads(await self.socket.recv())
        self.heartbeat = float(init["heartbeat_seconds"])

    def start(self) -> None:
        for coroutine in (self._read(), self._ping()):
            task = asyncio.get_running_loop().create_task(coroutine)
            self.tasks.add(task)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.socket is not None:
            await self.socket.close()

    async def _ping(self) -> None:
        assert self.socket is not None
        await asyncio.sleep(random.uniform(0, self.heartbeat / 2))  # noqa: S311 - spreading the pings
        frame_id = 0
        while True:
            frame_id += 1
            if self.stats.ceiling_on:
                self.stats.pings_sent[(self.login.agent_id, frame_id)] = time.perf_counter()
            await self.socket.send(f'{{"id":{frame_id},"type":"ping"}}')
            await asyncio.sleep(self.heartbeat / 2)

    async def _read(self) -> None:
        assert self.socket is not None
        stats = self.stats
        me = f'"agent_id":"{self.login.agent_id}"'
        try:
            async for message in self.socket:
                arrived = time.perf_counter()
                stats.frames += 1
                if isinstance(message, str) and '"pong"' in message:  # the echo: the ceiling of a frame's trip
                    sent_ping = stats.pings_sent.pop((self.login.agent_id, json.loads(message)["id"]), None)
                    if sent_ping is not None:
                        stats.echo_ms.append((arrived - sent_ping) * 1000)
                    continue
                # cheap filter first: most frames are colleagues' presence and queue summaries
                if not isinstance(message, str) or '"state":"offered"' not in message or me not in message:
                    continue
                frame: dict[str, Any] = json.loads(message)
                event = frame.get("event", {})
                if event.get("type") != "interaction.changed":
                    continue
                interaction = event["interaction"]
                if interaction["state"] != "offered" or interaction["agent_id"] != self.login.agent_id:
                    continue
                interaction_id: str = interaction["id"]
                if interaction_id in stats.offered:
                    continue
                stats.offered.add(interaction_id)
                sent = stats.sent_at.get(interaction_id)
                if sent is not None and interaction_id in stats.measured:
                    stats.latencies_ms.append((arrived - sent) * 1000)
                task = asyncio.get_running_loop().create_task(self._handle(interaction_id))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        except ConnectionClosed:
            stats.disconnects += 1

    async def _handle(self, interaction_id: str) -> None:
        try:
            response = await self.http.post(f"/api/v1/me/offers/{interaction_id}/accept", token=self.login.token)
            if response.status != 200:
                self.stats.error(f"accept {response.status} {response.body[:200]!r}")
                return
            await asyncio.sleep(self.talk_seconds)
            response = await self.http.post(
                f"/api/v1/me/interactions/{interaction_id}/complete",
                token=self.login.token,
                body={"disposition": "done"},
            )
            if response.status != 204:
                self.stats.error(f"complete {response.status} {response.body[:200]!r}")
                return
            self.stats.completed += 1
        except (OSError, asyncio.IncompleteReadError) as error:
            self.stats.error(f"agent request: {error!r}")


async def _create(http: HttpPool, api_key: str, interaction_id: str, stats: _Stats) -> None:
    body = {"id": interaction_id, "queue_id": QUEUE_ID, "channel": "phone", "from_address": "+14155550100"}
    stats.sent_at[interaction_id] = time.perf_counter()
    try:
        response = await http.post("/api/v1/interactions", token=api_key, body=body)
    except (OSError, asyncio.IncompleteReadError) as error:
        stats.error(f"create: {error!r}")
        return
    if response.status != 201:
        stats.error(f"create {response.status} {response.body[:200]!r}")


async def _http_ceiling(http: HttpPool, stats: _Stats) -> None:
    """The empty route's round trip on the same connections, a few times a second, while measuring."""
    while True:
        started = time.perf_counter()
        try:
            response = await http.request("GET", "/healthz", token="")
        except (OSError, asyncio.IncompleteReadError):
            response = None
        if response is not None and response.status == 200 and stats.ceiling_on:
            stats.http_ceiling_ms.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)


async def _load(
    base_url: str, api_keys: dict[str, str], logins: list[AgentLogin], p: dict[str, float]
) -> dict[str, Any]:
    rate, seconds, warmup = p["rate"], p["seconds"], p["warmup"]
    talk = 0.5 * len(logins) / rate
    stats = _Stats()
    http = HttpPool(base_url, size=HTTP_CONNECTIONS)
    try:
        agents = [_Agent(login, http, stats, talk) for login in logins]
        ws_url = base_url.replace("http://", "ws://")
        gate = asyncio.Semaphore(50)

        async def connect_one(agent: _Agent) -> None:
            async with gate:
                await agent.connect(ws_url)

        started = time.perf_counter()
        await asyncio.gather(*(connect_one(a) for a in agents))
        progress(f"load generator pid {os.getpid()}")
        elapsed = time.perf_counter() - started
        progress(f"{len(agents)} agent sockets connected in {elapsed:.1f} s; talk time {talk:.1f} s")
        for agent in agents:
            agent.start()
        lag = LoopLag()
        lag.start()
        tenants = sorted(api_keys)
        creations: set[asyncio.Task[None]] = set()
        total = int(rate * (warmup + seconds))
        begin = time.perf_counter()
        frames_at_warmup = 0
        ceiling_task: asyncio.Task[None] | None = None
        for n in range(total):
            due = begin + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if n == int(rate * warmup):
                frames_at_warmup, measure_begin = stats.frames, time.perf_counter()
                stats.ceiling_on = True
                ceiling_task = asyncio.get_running_loop().create_task(_http_ceiling(http, stats))
            interaction_id = f"ix{n}"
            if n >= int(rate * warmup):
                stats.measured.add(interaction_id)
            tenant_id = tenants[n % len(tenants)]
            task = asyncio.get_running_loop().create_task(_create(http, api_keys[tenant_id], interaction_id, stats))
            creations.add(task)
            task.add_done_callback(creations.discard)
            if n % int(rate * 5) == 0 and n:
                progress(f"{n} created, {len(stats.latencies_ms)} measured offers, {stats.http_errors} errors")
        achieved_rate = (total - int(rate * warmup)) / (time.perf_counter() - measure_begin)
        frames_per_s = (stats.frames - frames_at_warmup) / (time.perf_counter() - measure_begin)
        # bounded drain: the last offers arrive, then their agents finish
        drain_deadline = time.perf_counter() + 5.0
        while stats.measured - stats.offered and time.perf_counter() < drain_deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await lag.stop()
        stats.ceiling_on = False
        if ceiling_task is not None:
            ceiling_task.cancel()
        missing = len(stats.measured - stats.offered)
        for task in list(creations):
            task.cancel()
        await asyncio.gather(*(a.close() for a in agents))
    finally:
        await http.aclose()
    latencies = stats.latencies_ms
    ceiling_p50 = percentile(stats.http_ceiling_ms, 50) + percentile(stats.echo_ms, 50)
    return {
        "ratio_to_ceiling": round(percentile(latencies, 50) / ceiling_p50, 2) if ceiling_p50 > 0 else None,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies, default=float("nan")), 2),
        "agents": len(logins),
        "tenants": len(api_keys),
        "rate_per_s": round(achieved_rate, 1),
        "samples": len(latencies),
        "offers_missing": missing,
        "completed": stats.completed,
        "frames_per_s": round(frames_per_s),
        "http_errors": stats.http_errors,
        "disconnects": stats.disconnects,
        "ceiling_http_p50_ms": round(percentile(stats.http_ceiling_ms, 50), 2),
        "ceiling_ws_echo_p50_ms": round(percentile(stats.echo_ms, 50), 2),
        "ceiling_samples": [len(stats.http_ceiling_ms), len(stats.echo_ms)],
        **lag.summary(),
        **({"first_errors": stats.errors} if stats.errors else {}),
    }


def run(quick: bool) -> dict[str, Any]:
    p = dict(QUICK if quick else FULL)
    for key in p:
        if (value := os.environ.get(f"BENCH_{key.upper()}")) is not None:
            p[key] = float(value)
    agents, tenants = int(p["agents"]), int(p["tenants"])
    with tempfile.TemporaryDirectory(prefix="callbridge-bench-") as tmp:
        directory = Path(tmp)
        progress(f"provisioning {agents} agents in {tenants} tenant(s)")
        provisioned = provision(directory, tenants, agents // tenants)
        load_before = os.getloadavg()[0]
        with serve(directory, provisioned.database_url) as (base_url, _pid):
            result = asyncio.run(_load(base_url, provisioned.api_keys, provisioned.agents, p))
            result["server"] = commit_summary(base_url)
    return {
        "benchmark": "offer_latency",
        "quick": quick,
        **result,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
