"""Several nodes: interactions per second through the balancer, the cost of forwarding, and failover under
traffic.

Set-up: `python -m callbridge serve` processes (bench/_cluster_nodes.py, which the cluster tests use too) on
one fresh PostgreSQL database and one NATS bus (BENCH_PG_URL or CALLBRIDGE_TEST_PG_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test; BENCH_NATS_URL, default nats://127.0.0.1:4222), lease
BENCH_LEASE_SECONDS (default 2), behind HAProxy (Debian's package) configured as docs/deploy.md has it. TENANTS
tenants with a phone queue and AGENTS agents each, signed in and available (bench/_server.py provisions them),
and one more tenant whose agents are on break, for forwarding and failover.

Throughput, first with one node (it holds every tenant), then with three (the tenants spread over them): the
load of bench/throughput.py (bench/_load.py: WORKERS pipelines create -> accept -> complete, pipeline w for
tenant w mod TENANTS) through HAProxy, which sends each request to any node; a node that does not hold the
tenant forwards it to the one that does. `one_node` and `three_nodes` each report `interactions_per_s`,
`server_cpu_ms_per_interaction` (the CPU of every node, from each node's /metrics `process_cpu_seconds_total`,
divided by the interactions completed; PostgreSQL, NATS, HAProxy and the client are not counted) and
latencies; and, measured just before in the same set-up with the same client, `ceiling_interactions_per_s`: the
same pipelines doing three `GET /healthz` a round instead, what the client, the balancer and the machine
allow at most. `ratio_to_ceiling` is the one over the other: on a shared machine (and on 2 cores, where
three nodes cannot run side by side) the rate alone says little; the ratio and the CPU per interaction
say more. `load_average_1m` before and after each, and for the whole run; `leases_lost` during each (a
node that lost a lease drops the tenant and answers 503 until a node takes it), with `lease_counters`: the
losses by reason and the renewals by outcome (docs/deploy.md, "The lease under load").

Forwarding: the same read (`GET /api/v1/me`) from one client, alternating between the node holding the
tenant (the ceiling: no forwarding) and a node that forwards it over NATS. `forward_p50_ms` and
`forward_p99_ms` are the differences of the two's percentiles (the hop's cost); the absolute figures and
`ratio_to_ceiling` (median through another node / median on the holder) are reported beside them.

Failover: a PBX sends calls (its own ids, each retried until a definite answer: 201, or 409 "already
exists" on a retry) through the two nodes that do not hold the tenant; the holder (of about a third of all
the tenants) is killed (SIGKILL) KILLS times, and restarted after each, once the tenants have spread again.
`failover_s` per kill: from the kill to the first call another node acknowledges. `lost`: acknowledged
calls not stored; `duplicated`: calls with more than one `created` event.

The nodes' data folders and logs go in a temporary folder, removed at the end (after printing the last lines
of each node's log if the run failed); BENCH_KEEP_LOGS=1 keeps it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from bench._cluster_nodes import Nodes, balancer, haproxy_binary, held
from bench._load import TenantLoad, run_load
from bench._server import percentile, progress, provision, server_cpu_seconds
from callbridge.store.database import make_engine
from callbridge.store.tables import agents, interaction_events, interactions

FULL = {"reads": 2000, "kills": 20, "tenants": 30, "agents": 8, "workers": 120, "seconds": 20.0, "warmup": 2.0}
QUICK = {"reads": 300, "kills": 3, "tenants": 30, "agents": 5, "workers": 60, "seconds": 5.0, "warmup": 1.0}
PG_URL = os.environ.get(
    "BENCH_PG_URL", os.environ.get("CALLBRIDGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
)
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
LEASE_SECONDS = float(os.environ.get("BENCH_LEASE_SECONDS", "2"))
DEADLINE_SECONDS = float(os.environ.get("BENCH_DEADLINE_SECONDS", "60"))
# a node loading 31 tenants on a loaded machine may take more than a minute to answer /readyz
START_SECONDS = float(os.environ.get("BENCH_SERVER_START_SECONDS", "180"))


def _wait(condition: Any, what: str, deadline: float = DEADLINE_SECONDS) -> float:
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        if time.monotonic() - started > deadline:
            raise RuntimeError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.01)


def _provision(nodes: Nodes, sizes: dict[str, float]) -> tuple[list[TenantLoad], str, dict[str, str], dict[str, str]]:
    """The load's tenants (agents signed in and available) and one more, the forwarding and failover tenant
    (its agents on break, so its calls wait in the queue): (the load's tenants, that tenant's id, its PBX's
    headers, one of its agents' headers)."""
    count = int(sizes["tenants"]) + 1
    provisioned = provision(nodes.workdir, count, int(sizes["agents"]), 600, database_url=nodes.database_url)
    spare = f"tenant{count}"
    engine = make_engine(nodes.database_url)
    with engine.begin() as connection:
        connection.execute(update(agents).where(agents.c.tenant_id == spare).values(presence="break", status="break"))
    engine.dispose()
    tenants = [
        TenantLoad(key, {a.agent_id: a.token for a in provisioned.agents if a.tenant_id == tenant_id})
        for tenant_id, key in provisioned.api_keys.items()
        if tenant_id != spare
    ]
    token = next(a.token for a in provisioned.agents if a.tenant_id == spare)
    pbx = {"Authorization": f"Bearer {provisioned.api_keys[spare]}"}
    return tenants, spare, pbx, {"Authorization": f"Bearer {token}"}


def _spread(nodes: Nodes, running: list[int], tenants: int) -> bool:
    """Every tenant is held, and by the running nodes evenly (as the lease keepers share them out)."""
    counts = [len(held(nodes.urls[n])) for n in running]
    return sum(counts) == tenants and max(counts) <= -(-tenants // len(running))


def _lease_counters(nodes: Nodes, running: list[int]) -> dict[str, float]:
    """The running nodes' lease counters so far, summed: leases lost by reason (`lost_expired`, `lost_moved`,
    `lost_handed_over`: `callbridge_leases_lost_total`) and renewals by outcome (`renewals_done`,
    `renewals_failed`, `renewals_skipped`: `callbridge_lease_renewals_total`)."""
    totals: dict[str, float] = {}
    for n in running:
        for line in httpx.get(f"{nodes.urls[n]}/metrics", timeout=10).text.splitlines():
            for metric, label, prefix in (
                ("callbridge_leases_lost_total{", "reason", "lost_"),
                ("callbridge_lease_renewals_total{", "outcome", "renewals_"),
            ):
                if line.startswith(metric):
                    value = line.split(f'{label}="', 1)[1].split('"', 1)[0]
                    key = prefix + value
                    totals[key] = totals.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def _throughput(
    nodes: Nodes, running: list[int], tenants: list[TenantLoad], sizes: dict[str, float], binary: str
) -> dict[str, Any]:
    """The load through HAProxy in front of the running nodes, after the same load on /healthz (the ceiling)."""
    # checked as docs/deploy.md has it: the nodes' CPU includes what those checks cost
    checks = "inter 1s fall 2 rise 2"
    with balancer(binary, nodes, nodes.workdir, only=running, check=checks, stop_seconds=DEADLINE_SECONDS) as (
        url,
        _pid,
    ):
        _wait(lambda: all(httpx.get(f"{url}/readyz", timeout=2).status_code == 200 for _ in running), "HAProxy")

        def load(ceiling: bool) -> dict[str, Any]:
            return asyncio.run(
                run_load(
                    url,
                    tenants,
                    workers=int(sizes["workers"]),
                    seconds=sizes["seconds"],
                    warmup=sizes["warmup"],
                    server_cpu=lambda: sum(server_cpu_seconds(nodes.urls[n]) for n in running),
                    ceiling=ceiling,
                )
            )

        load_before = os.getloadavg()[0]
        counters_before = _lease_counters(nodes, running)
        progress(f"{len(running)} node(s): the ceiling, {int(sizes['seconds'])} s of GET /healthz through HAProxy")
        ceiling = load(ceiling=True)
        progress(f"{len(running)} node(s): {int(sizes['seconds'])} s of interactions through HAProxy")
        result = load(ceiling=False)
        counters = _lease_counters(nodes, running)
        during = {k: int(v - counters_before.get(k, 0.0)) for k, v in sorted(counters.items())}
    return {
        "nodes": len(running),
        **result,
        "ceiling_interactions_per_s": ceiling["interactions_per_s"],
        "ratio_to_ceiling": round(result["interactions_per_s"] / max(0.1, ceiling["interactions_per_s"]), 3),
        "ceiling_server_cpu_ms_per_round": ceiling["server_cpu_ms_per_interaction"],
        "ceiling_request_p50_ms": ceiling.get("request_p50_ms"),
        "ceiling_errors": ceiling["errors"],
        # a node too busy to renew in time drops its tenants (and takes them again): errors, not throughput
        "leases_lost": sum(v for k, v in during.items() if k.startswith("lost_")),
        # why (expired: not renewed in time; moved: another node took it; handed_over: to balance the nodes),
        # and the renewals (skipped: the node's event loop stalled for longer than a lease)
        "lease_counters": during,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def _forwarding(nodes: Nodes, tenant_id: str, agent: dict[str, str], reads: int) -> dict[str, float]:
    _wait(lambda: nodes.holder(tenant_id) is not None, f"a node to hold {tenant_id}")
    holder = nodes.holder(tenant_id)
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


def _failover(nodes: Nodes, tenant_id: str, pbx: dict[str, str], kills: int, tenants: int) -> dict[str, Any]:
    acknowledged: list[tuple[str, float]] = []
    holder_cache: list[int | None] = [None]  # where the traffic thread should not send (the holder)
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
                    holder = holder_cache[0]
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

    holder_cache[0] = nodes.holder(tenant_id)
    sender = threading.Thread(target=traffic)
    sender.start()
    failovers: list[float] = []
    try:
        for kill in range(kills):
            # a restarted node takes its share of the tenants back: let that settle before the next kill
            _wait(lambda: _spread(nodes, [0, 1, 2], tenants), "the tenants to spread over the three nodes again")
            holder = nodes.holder(tenant_id)
            assert holder is not None
            holder_cache[0] = holder
            _wait(lambda: len(acknowledged) > 5, "traffic")
            nodes.stop(holder, kill=True)
            killed_at = time.monotonic()
            _wait(lambda k=killed_at: any(at > k for _, at in acknowledged), "a call acknowledged after the kill")
            failovers.append(next(at for _, at in acknowledged if at > killed_at) - killed_at)
            progress(f"kill {kill + 1}/{kills}: calls acknowledged again after {failovers[-1]:.2f} s")
            holder_cache[0] = nodes.holder(tenant_id)
            nodes.start(holder)
    finally:
        stop.set()
        sender.join(timeout=DEADLINE_SECONDS * 2)
    engine = make_engine(nodes.database_url)
    try:
        with engine.connect() as connection:
            stored = set(
                connection.execute(select(interactions.c.id).where(interactions.c.tenant_id == tenant_id)).scalars()
            )
            created = connection.execute(
                select(interaction_events.c.interaction_id, func.count())
                .where(interaction_events.c.type == "created", interaction_events.c.tenant_id == tenant_id)
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
    sizes = dict(QUICK if quick else FULL)
    binary = haproxy_binary()
    if binary is None:
        raise RuntimeError("HAProxy is not installed: apt-get install haproxy (scripts/install-cluster-services)")
    name = f"cb_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    workdir = Path(tempfile.mkdtemp(prefix="callbridge-bench-cluster-"))
    nodes = Nodes(
        url,
        workdir,
        prefix="bench",
        extra={
            "CALLBRIDGE_BUS_URL": NATS_URL,
            # no consoles are connected: agents must not be put on break for silence during the run
            "CALLBRIDGE_HEARTBEAT_TIMEOUT_SECONDS": "3600",
            # every client of this benchmark connects from this machine
            "CALLBRIDGE_RATE_LIMIT_ANONYMOUS": "1000000/minute",
        },
        lease_seconds=LEASE_SECONDS,
        start_seconds=START_SECONDS,
        stop_seconds=DEADLINE_SECONDS,
    )
    load_before = os.getloadavg()[0]
    completed = False
    try:
        progress(f"provisioning {int(sizes['tenants']) + 1} tenants with {int(sizes['agents'])} agents each")
        tenants, spare, pbx, agent = _provision(nodes, sizes)
        held_total = len(tenants) + 1
        progress("starting one node")
        nodes.start(0)
        _wait(lambda: _spread(nodes, [0], held_total), "one node to take every tenant")
        result: dict[str, Any] = {"benchmark": "cluster", "quick": quick, "nodes": 3, "lease_seconds": LEASE_SECONDS}
        result["one_node"] = _throughput(nodes, [0], tenants, sizes, binary)
        progress("starting two more nodes")
        nodes.start(1)
        nodes.start(2)
        _wait(lambda: _spread(nodes, [0, 1, 2], held_total), "the tenants to spread over the three nodes")
        result["three_nodes"] = _throughput(nodes, [0, 1, 2], tenants, sizes, binary)
        progress(f"forwarding: {sizes['reads']} reads on the holder and through another node")
        result.update(_forwarding(nodes, spare, agent, int(sizes["reads"])))
        progress(f"failover: {sizes['kills']} kills of the holder under traffic")
        result.update(_failover(nodes, spare, pbx, int(sizes["kills"]), held_total))
        result["load_average_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        completed = True
        return result
    finally:
        progress("stopping the nodes, dropping the database")
        nodes.stop_all()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if not completed:  # what the nodes said before the folder goes
            for log in sorted(workdir.glob("*/server.log")):
                progress(f"{log.parent.name}, last lines of its log:\n" + "\n".join(log.read_text().splitlines()[-20:]))
        if os.environ.get("BENCH_KEEP_LOGS"):
            progress(f"the nodes' logs are kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
