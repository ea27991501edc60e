"""Throughput: interactions created -> offered -> accepted -> completed through the REST API, per second.

Set-up: a real server (`python -m callbridge serve`, SQLite file, its own
process, loopback only; see bench/_server.py) with one tenant, one phone
queue and AGENTS agents signed in and available.

Load (bench/_load.py, shared with the cluster benchmark): WORKERS concurrent
pipelines in one asyncio loop, over a fixed pool of keep-alive HTTP connections
(bench/_http.py). Each pipeline repeats: `POST /api/v1/interactions` (API key)
-> the interaction is offered in the same command, and the answer names the
agent -> that agent `POST /me/offers/{id}/accept` -> `POST
/me/interactions/{id}/complete`, which makes the agent available again. Steady
state: there are more agents than pipelines, so every interaction is offered on
arrival (a create that comes back queued counts as an error). No agent consoles are connected (offer
delivery over WebSockets is what `offer_latency` measures), so the server
runs with a heartbeat timeout longer than the run.

Result: interactions completed per second during the measured window (after
a warm-up), and first `ratio_to_ceiling`: that rate over the ceiling measured just before in the same run with
the same client and server (the same pipelines doing three `GET /healthz` a round, `ceiling_rounds_per_s`), which
holds better than the rate on a shared, noisy machine; with per-request latencies, the server's CPU time per
interaction (from its /metrics; unlike the rate, it does not depend on what else the machine runs) and the load
generator's own loop lag.
Environment BENCH_AGENTS, BENCH_WORKERS and BENCH_SECONDS override the sizes.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from bench._load import TenantLoad, run_load
from bench._server import commit_summary, progress, provision, serve, server_cpu_seconds

FULL = {"agents": 400, "workers": 128, "seconds": 20.0, "warmup": 2.0}
QUICK = {"agents": 200, "workers": 64, "seconds": 5.0, "warmup": 1.0}


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

            def load(ceiling: bool) -> dict[str, Any]:
                return asyncio.run(
                    run_load(
                        base_url,
                        [TenantLoad(api_key, tokens)],
                        workers=int(p["workers"]),
                        seconds=p["seconds"],
                        warmup=p["warmup"],
                        server_cpu=lambda: server_cpu_seconds(base_url),
                        ceiling=ceiling,
                    )
                )

            progress(f"the ceiling: {int(p['seconds'])} s of GET /healthz with the same pipelines")
            ceiling = load(ceiling=True)
            progress(f"{int(p['seconds'])} s of interactions")
            result = load(ceiling=False)
            result["server"] = commit_summary(base_url)
    return {
        "benchmark": "throughput",
        "quick": quick,
        "ratio_to_ceiling": round(result["interactions_per_s"] / max(0.1, ceiling["interactions_per_s"]), 3),
        **result,
        "ceiling_rounds_per_s": ceiling["interactions_per_s"],
        "ceiling_server_cpu_ms_per_round": ceiling["server_cpu_ms_per_interaction"],
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
