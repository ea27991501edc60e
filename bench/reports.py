"""Reports: 30 days of a 1,000-agent center, then each report over the 30 days.

Set-up (not timed): a fresh SQLite file at the newest migration with one tenant in America/New_York
(the 30 days include the 2026-11-01 DST change), 20 queues and AGENTS agents. Each agent works one
shift a day: signs in, takes INTERACTIONS_PER_DAY interactions (offer, accept, talk, wrap-up,
available; about one in twenty offers is missed and one in twenty callers abandons), goes on a
short break or working offline after each one, and signs out: about 167 status events and 33
interactions per agent-day, so 5,000,000 status events and 1,000,000 interactions at full size. The
log rows (agent_status_events, interaction_events, interactions) are inserted directly; the same
facts go through `Deltas.add` and `write_deltas`, exactly what the live batch listener writes.

Timed (median of REPEATS runs, each on a fresh connection): the agent-activity report for all agents
over the 30 days, the queue-performance report (all queues, by day and by hour) over the 30 days, an
interaction search (one queue and a caller substring, first page), one agent's timeline for a day.
For the record of the decision in docs/adr/0004-reports.md it also times the cheapest on-read
alternative: one GROUP BY over the raw status log for the 30 days (which still ignores midnight
splitting and the time zone).

Environment BENCH_AGENTS and BENCH_DAYS override the sizes; the database is made in a temporary
directory and removed.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from callbridge.reports.calendar import day_start, zone
from callbridge.reports.facts import (
    Deltas,
    Fact,
    Handled,
    OfferClosed,
    Offered,
    QueueEntered,
    QueueLeft,
    status_facts,
)
from callbridge.store.database import make_engine, upgrade
from callbridge.store.report_aggregates import write_deltas
from callbridge.store.reports import (
    Range,
    SearchFilter,
    agent_activity,
    agent_timeline,
    queue_performance,
    search_interactions,
)
from callbridge.store.tables import agents, queues, tenants

FULL = {"agents": 1000, "days": 30}
QUICK = {"agents": 25, "days": 30}
INTERACTIONS_PER_DAY = 33
QUEUES = 20
TENANT = "bench"
FIRST_DAY = date(2026, 10, 15)
REPEATS = 3


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Generator:
    def __init__(self, connection: sqlite3.Connection, tz_name: str, seed: int = 7) -> None:
        self.db = connection
        self.tz = zone(tz_name)
        self.rng = random.Random(seed)
        self.status_rows: list[tuple[Any, ...]] = []
        self.event_rows: list[tuple[Any, ...]] = []
        self.interaction_rows: list[tuple[Any, ...]] = []
        self.facts: list[Fact] = []
        self.deltas = Deltas()
        self.counts = {"status_events": 0, "interactions": 0, "interaction_events": 0}
        self.sequence = 0
        self.current: dict[str, tuple[str, float]] = {}

    def status(self, agent_id: str, status: str, at: float, reason: str = "") -> None:
        previous, since = self.current.get(agent_id, ("logged_out", at - 3600.0))
        self.status_rows.append((TENANT, agent_id, status, reason, at, previous, since))
        self.facts.extend(status_facts(agent_id, status, at, previous, since))
        self.current[agent_id] = (status, at)

    def event(self, iid: str, kind: str, at: float, agent_id: str | None, queue_id: str | None, detail: str) -> None:
        self.event_rows.append((TENANT, iid, kind, at, agent_id, queue_id, detail))

    def interaction(self, iid: str, channel: str, queue_id: str, state: str, at: float, **values: Any) -> None:
        self.sequence += 1
        self.interaction_rows.append(
            (
                TENANT, iid, channel, "inbound", queue_id, state, f"+1212555{self.rng.randrange(10_000):04d}", "",
                "", "{}", 0, 30, at, self.sequence, values.get("agent_id"), None, None, 1, at,
                values.get("connected_at"), values.get("ended_at"), None, values.get("completed_at"),
                values.get("disposition", ""), "", values.get("end_reason", ""),
            )
        )  # fmt: skip

    def agent_day(self, agent_id: str, day: date, home_queues: list[tuple[str, str]]) -> None:
        rng = self.rng
        t = day_start(day, self.tz) + 7 * 3600 + rng.uniform(0, 3 * 3600)
        self.status(agent_id, "break", t, "signed_in")
        t += rng.uniform(30, 300)
        self.status(agent_id, "available", t)
        for n in range(INTERACTIONS_PER_DAY):
            queue_id, channel = home_queues[n % len(home_queues)]
            iid = f"{agent_id}-{day.isoformat()}-{n}"
            t += rng.uniform(20, 240)
            waited = rng.expovariate(1 / 15)
            queued = t - waited
            if rng.random() < 0.05:  # the caller leaves before an agent is free
                self.interaction(iid, channel, queue_id, "abandoned", queued, ended_at=t, end_reason="caller_hung_up")
                self.event(iid, "created", queued, None, queue_id, f'{{"channel": "{channel}"}}')
                self.event(iid, "queued", queued, None, queue_id, '{"requeued": false}')
                self.event(iid, "abandoned", t, None, None, '{"reason": "caller_hung_up"}')
                self.facts += [QueueEntered(queue_id, queued), QueueLeft(queue_id, t, waited, False, 20.0)]
                self.status(agent_id, "working_offline", t + 1)
                t += rng.uniform(20, 120)
                self.status(agent_id, "available", t)
                continue
            self.facts += [QueueEntered(queue_id, queued), Offered(agent_id, t)]
            self.event(iid, "created", queued, None, queue_id, f'{{"channel": "{channel}"}}')
            self.event(iid, "queued", queued, None, queue_id, '{"requeued": false}')
            self.event(iid, "offered", t, agent_id, queue_id, "{}")
            if rng.random() < 0.05:  # missed: break, then back, then the caller is answered
                t += 20
                self.facts.append(OfferClosed(agent_id, t, "timed_out"))
                self.event(iid, "offer_ended", t, agent_id, None, '{"outcome": "timed_out"}')
                self.status(agent_id, "break", t, "missed_offer")
                t += rng.uniform(30, 120)
                self.status(agent_id, "available", t)
                self.facts.append(Offered(agent_id, t))
                self.event(iid, "offered", t, agent_id, queue_id, "{}")
            accepted = t + rng.uniform(1, 8)
            ended = accepted + rng.uniform(60, 600)
            completed = ended + rng.uniform(5, 60)
            self.facts += [
                OfferClosed(agent_id, accepted, "accepted"),
                QueueLeft(queue_id, accepted, accepted - queued, True, 20.0),
                Handled(agent_id, completed, channel, completed - accepted, completed - ended),
            ]
            self.event(iid, "offer_ended", accepted, agent_id, None, '{"outcome": "accepted"}')
            self.event(iid, "connected", accepted, agent_id, None, "{}")
            self.event(iid, "wrap_up", ended, agent_id, None, "{}")
            self.event(iid, "completed", completed, agent_id, None, '{"disposition": "done"}')
            self.interaction(
                iid, channel, queue_id, "completed", queued, agent_id=agent_id, connected_at=accepted,
                ended_at=ended, completed_at=completed, disposition=rng.choice(["sale", "support", "callback"]),
            )  # fmt: skip
            self.status(agent_id, "busy", accepted)
            self.status(agent_id, "wrap_up", ended)
            self.status(agent_id, "available", completed)
            t = completed
            pause = rng.choice(["break", "working_offline"])  # a short pause after each interaction
            self.status(agent_id, pause, t + rng.uniform(1, 30), "coffee" if pause == "break" else "")
            t += rng.uniform(60, 300)
            self.status(agent_id, "available", t)
        self.status(agent_id, "logged_out", t + rng.uniform(10, 120))
        if len(self.status_rows) > 200_000:
            self.flush()

    def flush(self) -> None:
        self.db.executemany(
            "INSERT INTO agent_status_events (tenant_id, agent_id, status, reason, at, previous_status, previous_since)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            self.status_rows,
        )
        self.db.executemany(
            "INSERT INTO interaction_events (tenant_id, interaction_id, type, at, agent_id, queue_id, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            self.event_rows,
        )
        self.db.executemany(
            "INSERT INTO interactions (tenant_id, id, channel, direction, queue_id, state, from_address, to_address,"
            " case_number, data, priority, wrap_up_seconds, enqueued_at, sequence, agent_id, offer_id, offer_deadline,"
            " offer_attempts, created_at, connected_at, ended_at, wrap_up_deadline, completed_at, disposition, notes,"
            " end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.interaction_rows,
        )
        self.db.commit()
        self.counts["status_events"] += len(self.status_rows)
        self.counts["interactions"] += len(self.interaction_rows)
        self.counts["interaction_events"] += len(self.event_rows)
        self.deltas.add(self.facts, self.tz)
        self.status_rows, self.event_rows, self.interaction_rows, self.facts = [], [], [], []


def timed(fn: Any) -> float:
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return round(statistics.median(runs), 4)


def run(quick: bool) -> dict[str, Any]:
    size = dict(QUICK if quick else FULL)
    size["agents"] = int(os.environ.get("BENCH_AGENTS", size["agents"]))
    size["days"] = int(os.environ.get("BENCH_DAYS", size["days"]))
    with tempfile.TemporaryDirectory(prefix="callbridge-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'reports.db'}"
        engine = make_engine(url)
        upgrade(engine)
        tz_name = "America/New_York"
        queue_list = [(f"q{n:02d}", ("phone", "chat", "voicemail")[n % 3]) for n in range(QUEUES)]
        with engine.begin() as c:
            c.execute(insert(tenants).values(id=TENANT, name="Bench", time_zone=tz_name, created_at=0.0))
            for queue_id, channel in queue_list:
                c.execute(
                    insert(queues).values(tenant_id=TENANT, id=queue_id, name=queue_id, channel=channel, created_at=0.0)
                )
            c.execute(
                insert(agents),
                [
                    {
                        "tenant_id": TENANT, "id": f"a{n:04d}", "email": f"a{n}@bench.example",
                        "display_name": f"Agent {n:04d}", "roles": ["agent"], "capacity": {"phone": 1},
                        "queue_ids": [], "created_at": 0.0, "status_since": 0.0, "idle_since": 0.0,
                    }
                    for n in range(size["agents"])
                ],
            )  # fmt: skip
        raw = sqlite3.connect(Path(folder) / "reports.db")
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=OFF")
        generator = Generator(raw, tz_name)
        started = time.perf_counter()
        for d in range(size["days"]):
            day = FIRST_DAY + timedelta(days=d)
            for n in range(size["agents"]):
                home = [queue_list[(n + k) % QUEUES] for k in range(3)]
                generator.agent_day(f"a{n:04d}", day, home)
            written = generator.counts["status_events"] + len(generator.status_rows)
            progress(f"day {d + 1}/{size['days']}: {written:,} status events")
        generator.flush()
        with engine.begin() as c:
            write_deltas(c, TENANT, generator.deltas)
        raw.execute("ANALYZE")
        raw.commit()
        raw.close()
        setup_s = round(time.perf_counter() - started, 1)
        progress(f"generated in {setup_s} s; timing the reports")
        tz = zone(tz_name)
        period = Range(FIRST_DAY, FIRST_DAY + timedelta(days=size["days"] - 1), tz)
        now = day_start(period.last + timedelta(days=1), tz)
        result: dict[str, Any] = {}

        def activity() -> None:
            with engine.connect() as c:
                rows = agent_activity(c, TENANT, period, now)
                result["agents_reported"] = len(rows)

        def queue_report() -> None:
            with engine.connect() as c:
                report = queue_performance(c, TENANT, period)
                result["offered_reported"] = report["all"]["offered"]

        def search() -> None:
            with engine.connect() as c:
                search_interactions(c, TENANT, period, SearchFilter(caller="5550", queue_id="q03"))

        def timeline() -> None:
            with engine.connect() as c:
                agent_timeline(c, TENANT, "a0007", FIRST_DAY + timedelta(days=3), tz, now)

        def raw_scan() -> None:
            start, end = period.bounds
            with sqlite3.connect(Path(folder) / "reports.db") as db:
                db.execute(
                    "SELECT agent_id, previous_status, sum(at - previous_since) FROM agent_status_events"
                    " WHERE tenant_id = ? AND at >= ? AND at < ? GROUP BY agent_id, previous_status",
                    (TENANT, start, end),
                ).fetchall()

        out = {
            "status_events": generator.counts["status_events"],
            "interactions": generator.counts["interactions"],
            "interaction_events": generator.counts["interaction_events"],
            "agents": size["agents"],
            "days": size["days"],
            "agent_activity_s": timed(activity),
            "queue_report_s": timed(queue_report),
            "search_s": timed(search),
            "timeline_s": timed(timeline),
            "raw_status_scan_s": timed(raw_scan),
            "setup_s": setup_s,
        }
        out.update(result)
        engine.dispose()
        progress(json.dumps(out))
        return out
