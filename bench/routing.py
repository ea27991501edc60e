"""Routing throughput of the pure engine on one core.

A large contact center (10,000 agents in 1,000 queues with skill
requirements; each agent a member of several queues, qualifying for most of
them) is set up and every agent made available. Then a steady stream of
interactions arrives across the queues (busier queues get more), and agents
answer at once and complete the oldest conversation whenever more than
`BUSY_SHARE` of the agents' slots (capacity on the channels they serve)
are in use or more than `BACKLOG_SHARE` x agents interactions wait, so
the center runs near full load:
some interactions wait and are routed when an agent frees up, others find a
ready agent when they arrive.

What is timed: every command of that stream (SubmitInteraction, AcceptOffer,
CompleteInteraction, and a Tick every `TICK_EVERY` commands), i.e. the
commands that lead to routing decisions, plus the decisions themselves. A
decision is one offer made by the engine (`ContactCenter.decisions`).
Set-up (configuration, sign-in) is not timed. Reported:

- decisions_per_s: offers made / wall time of the timed loop
- commands_per_s: commands handled / the same time
- p50_us, p99_us, max_us: latency of one command (all kinds), from its own timer
- interpreter_mops: a same-run baseline of this interpreter's speed on this machine now (millions of a fixed mix of
  heap, dict and attribute operations, the kind routing does, per second; best of three, timed just before and
  after the stream), and decisions_per_interpreter_mop, decisions_per_s over it: the figure to compare between
  runs on a noisy machine, where decisions_per_s alone moves several times over with the load

BENCH_BACKLOG=N (environment) adds what a busy day looks like to the node: N interactions waiting in the
queues before the stream starts (at a priority below all of it, so they stay waiting while the stream is
served), and the summaries the node publishes: every DIGEST_EVERY commands, `queue_snapshot` of every
queue a command touched, as the digest of queue summaries does (timed, and counted in `seconds`; reported
as digest_us_mean and digest_ms_total). BENCH_BACKLOG=0 gives the digests without a backlog.
"""

from __future__ import annotations

import gc
import heapq
import os
import random
import sys
import time
from collections import deque
from typing import Any

from callbridge.domain import commands as cmd
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.events import InteractionOffered
from callbridge.domain.model import AgentProfile, AgentStatus, Channel, Queue

SEED = 20_240_601
QUEUES_PER_AGENT = (3, 8)
SKILLS = 60
BUSY_SHARE = 0.9
BACKLOG_SHARE = 0.05
TICK_EVERY = 1_000
DIGEST_EVERY = 1_000  # about what a node handles between two digests (every 0.5 s) on a busy day
CHANNEL_MIX = [(Channel.PHONE, 0.70), (Channel.CHAT, 0.25), (Channel.VOICEMAIL, 0.05)]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(agents: int, queues: int, rng: random.Random, now: float) -> tuple[ContactCenter, list[str], list[float]]:
    cc = ContactCenter("bench")
    queue_ids: list[str] = []
    weights: list[float] = []
    requirements: dict[str, dict[str, int]] = {}
    for n in range(queues):
        channel = rng.choices([c for c, _ in CHANNEL_MIX], [w for _, w in CHANNEL_MIX])[0]
        required = {f"skill{rng.randrange(SKILLS)}": rng.randint(1, 3) for _ in range(rng.choice([0, 1, 1, 2]))}
        queue = Queue(
            id=f"q{n}",
            name=f"Queue {n}",
            channel=channel,
            required_skills=required,
            priority=rng.choice([0, 0, 0, 1, 2]),
            offer_timeout_seconds=20,
            wrap_up_seconds=30,
        )
        cc.upsert_queue(queue, now)
        queue_ids.append(queue.id)
        requirements[queue.id] = required
        weights.append(rng.uniform(0.5, 2.0))
    for n in range(agents):
        member_of = rng.sample(queue_ids, rng.randint(*QUEUES_PER_AGENT))
        skills: dict[str, int] = {f"skill{rng.randrange(SKILLS)}": rng.randint(1, 5) for _ in range(3)}
        for queue_id in member_of:
            for skill, level in requirements[queue_id].items():
                # most agents meet their queues' requirements; some fall a level short
                have = level + rng.randint(0, 2) if rng.random() < 0.9 else level - 1
                skills[skill] = max(skills.get(skill, 0), have)
        profile = AgentProfile(
            id=f"a{n}",
            email=f"a{n}@example.com",
            display_name=f"Agent {n}",
            skills=skills,
            capacity={Channel.PHONE: 1, Channel.CHAT: rng.choice([2, 3, 4]), Channel.VOICEMAIL: 1},
            queue_ids=tuple(member_of),
        )
        cc.upsert_agent(profile, now)
    # traffic follows staffing, so that no queue is flooded beyond what its agents can take
    qualified = dict.fromkeys(queue_ids, 0)
    for agent in cc.agents.values():
        for queue_id in agent.eligible_queue_ids:
            qualified[queue_id] += 1
    weights = [w * qualified[q] for w, q in zip(weights, queue_ids, strict=True)]
    return cc, queue_ids, weights


def interpreter_mops(rounds: int = 3, size: int = 50_000) -> float:
    """Millions of operations per second of a fixed pure-Python mix (heap, dict, attribute): best of `rounds`."""

    class Slot:
        __slots__ = ("key", "seen")

        def __init__(self, key: int) -> None:
            self.key = key
            self.seen = 0

    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        heap: list[tuple[int, int]] = []
        slots: dict[int, Slot] = {}
        for n in range(size):
            heapq.heappush(heap, ((n * 7919) % size, n))
            slots[n] = Slot(n)
        while heap:
            _, n = heapq.heappop(heap)
            slots[n].seen += 1
        best = min(best, time.perf_counter() - started)
    return 3 * size / best / 1e6


def run(quick: bool) -> dict[str, Any]:
    agents, queues, interactions = (1_000, 100, 60_000) if quick else (10_000, 1_000, 200_000)
    rng = random.Random(SEED)
    now = 1_700_000_000.0
    _progress(f"building {agents} agents in {queues} queues")
    started = time.perf_counter()
    cc, queue_ids, weights = build(agents, queues, rng, now)
    for agent_id in cc.agents:
        cc.handle(cmd.SignIn(agent_id), now)
        cc.handle(cmd.SetPresence(agent_id, AgentStatus.AVAILABLE), now)
    cc.take_changes()
    setup_s = time.perf_counter() - started
    _progress(f"set up in {setup_s:.1f} s; routing {interactions} interactions")

    # the arrivals are drawn before timing, so only the engine is measured
    channels = {q: cc.queues[q].channel for q in queue_ids}
    arrivals = rng.choices(queue_ids, weights, k=interactions)
    submits = [cmd.SubmitInteraction(f"i{n}", q, channels[q]) for n, q in enumerate(arrivals)]
    slots = sum(
        agent.profile.capacity.get(channel, 0)
        for agent in cc.agents.values()
        for channel in {cc.queues[q].channel for q in agent.eligible_queue_ids}
    )
    busy_limit = int(slots * BUSY_SHARE)
    backlog_limit = int(agents * BACKLOG_SHARE)
    on_arrival = 0
    connected: deque[tuple[str, str]] = deque()
    latencies: list[int] = []
    record = latencies.append
    handle = cc.handle
    clock = time.perf_counter_ns
    decisions_before = cc.decisions
    commands = 0
    store_s = 0.0
    backlog = int(os.environ.get("BENCH_BACKLOG", "-1"))
    digests = backlog >= 0
    queue_of: dict[str, str] = {}
    touched: set[str] = set()
    digest_ns: list[int] = []
    if backlog > 0:
        _progress(f"queueing a backlog of {backlog} interactions")
        for n, queue_id in enumerate(rng.choices(queue_ids, weights, k=backlog)):
            interaction_id = f"b{n}"
            queue_of[interaction_id] = queue_id
            for event in cc.handle(
                cmd.SubmitInteraction(interaction_id, queue_id, channels[queue_id], priority=-1), now
            ):
                if type(event) is InteractionOffered:  # the free agents take some: they stay connected for now
                    cc.handle(cmd.AcceptOffer(event.agent_id, event.interaction_id), now)
                    connected.append((event.agent_id, event.interaction_id))
        cc.take_changes()
    backlog = max(backlog, 0)
    decisions_at_start = cc.decisions  # offers made to the backlog before timing are not counted

    def apply(command: cmd.Command, at: float) -> list[Any]:
        nonlocal commands
        t = clock()
        events = handle(command, at)
        record(clock() - t)
        commands += 1
        if digests:
            queue_id = getattr(command, "queue_id", None) or queue_of.get(getattr(command, "interaction_id", ""))
            if queue_id:
                touched.add(queue_id)
            if commands % DIGEST_EVERY == 0:
                t = clock()
                for queue_id in touched:
                    cc.queue_snapshot(queue_id)
                digest_ns.append(clock() - t)
                touched.clear()
        return events

    gc.collect()
    gc.disable()
    speed_before = interpreter_mops()
    loop_started = time.perf_counter()
    try:
        for n, submit in enumerate(submits):
            now += 0.001
            if digests:
                queue_of[submit.interaction_id] = submit.queue_id
            pending = apply(submit, now)
            on_arrival += len(pending) > 2  # created, queued, then offered at once
            while pending:
                offered = [e for e in pending if type(e) is InteractionOffered]
                pending = []
                for offer in offered:
                    apply(cmd.AcceptOffer(offer.agent_id, offer.interaction_id), now)
                    connected.append((offer.agent_id, offer.interaction_id))
                while connected and (
                    len(connected) > busy_limit
                    or n + 1 + backlog - (cc.decisions - decisions_before) > backlog_limit + backlog
                ):
                    agent_id, interaction_id = connected.popleft()
                    pending += apply(cmd.CompleteInteraction(agent_id, interaction_id, "done"), now)
            if commands % TICK_EVERY < 3:
                apply(cmd.Tick(), now)
            if n % 50_000 == 49_999:
                # what the store does: hand over changed rows and forget ended interactions; not routing,
                # so its time is left out (reported as store_s)
                t = time.perf_counter()
                cc.take_changes()
                store_s += time.perf_counter() - t
                _progress(f"  {n + 1} interactions, {cc.decisions - decisions_before} decisions")
    finally:
        gc.enable()
    elapsed = time.perf_counter() - loop_started - store_s
    speed = (speed_before + interpreter_mops()) / 2
    decisions = cc.decisions - decisions_at_start
    latencies.sort()
    waiting = sum(len(cc.waiting_in(q)) for q in queue_ids) if quick and not backlog else None
    result: dict[str, Any] = {
        "agents": agents,
        "queues": queues,
        "interactions": interactions,
        "decisions": decisions,
        "commands": commands,
        "seconds": round(elapsed, 3),
        "decisions_per_s": round(decisions / elapsed),
        "offered_on_arrival": on_arrival,
        "offered_from_queue": decisions - on_arrival,
        "commands_per_s": round(commands / elapsed),
        "p50_us": round(latencies[len(latencies) // 2] / 1000, 1),
        "p99_us": round(latencies[int(len(latencies) * 0.99)] / 1000, 1),
        "max_us": round(latencies[-1] / 1000, 1),
        "setup_s": round(setup_s, 1),
        "store_s": round(store_s, 3),
        "still_waiting": waiting,
        "python": sys.version.split()[0],
        "interpreter_mops": round(speed, 2),
        "decisions_per_interpreter_mop": round(decisions / elapsed / speed),
    }
    if digests:
        result.update(
            backlog=backlog,
            waiting_at_end=sum(cc.queue_snapshot(q).waiting for q in queue_ids),
            digests=len(digest_ns),
            digest_us_mean=round(sum(digest_ns) / max(len(digest_ns), 1) / 1000, 1),
            digest_ms_total=round(sum(digest_ns) / 1e6, 1),
        )
    return result
