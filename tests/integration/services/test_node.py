"""The node answers every caller once, in order, survives callers that stop waiting, and never lets an
interaction id be used twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, select

from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition
from callbridge.domain.events import Event, InteractionOffered
from callbridge.domain.model import AgentProfile, AgentStatus, Channel, Queue
from callbridge.realtime.hub import Hub, Subscriber
from callbridge.services.clock import ManualClock
from callbridge.services.node import ContactCenterNode, InteractionIdTaken
from callbridge.store.database import make_engine, upgrade
from callbridge.store.tables import agents, interactions, queues, tenants
from tests.conftest import run_coroutine


def test_a_caller_that_stops_waiting_does_not_stop_the_others(tmp_path: Path) -> None:
    run_coroutine(callers_that_stop_waiting(tmp_path))


async def callers_that_stop_waiting(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(tenants).values(id="acme", name="Acme", created_at=0.0, allowed_origins=[], settings={})
        )
    node = ContactCenterNode(engine, Hub(), ManualClock())
    await node.start()
    try:
        queue = Queue("sales", "Sales", Channel.PHONE)
        await node.configure("acme", lambda cc, now: cc.upsert_queue(queue, now), lambda connection: None)
        abandoned = [
            asyncio.ensure_future(node.read("acme", lambda cc: len(cc.interactions))),
            asyncio.ensure_future(node.execute("acme", cmd.SignIn("nobody"))),  # refused: unknown agent
        ]
        submits = [
            asyncio.ensure_future(node.execute("acme", cmd.SubmitInteraction(f"call{n}", "sales", Channel.PHONE)))
            for n in range(3)
        ]
        await asyncio.sleep(0)  # everything is submitted and waits for its answer
        for caller in [*abandoned, submits[0]]:
            caller.cancel()  # e.g. the client hung up before the answer
        answered = await asyncio.wait_for(asyncio.gather(*submits[1:]), timeout=5)
        assert all(events for events in answered)
        waiting = await node.read("acme", lambda cc: [i.id for i in cc.waiting_in("sales")])
        assert waiting == ["call0", "call1", "call2"], "the cancelled caller's command still happened, in order"
        profile = AgentProfile("a1", "a1@acme.example", "A1", queue_ids=("sales",))
        events = await asyncio.wait_for(
            node.configure("acme", lambda cc, now: cc.upsert_agent(profile, now), lambda connection: None), timeout=5
        )
        assert events == [], "the node keeps serving"
    finally:
        await node.stop()
        engine.dispose()


def test_an_interaction_id_is_never_used_twice(engine: Engine) -> None:
    run_coroutine(ids_used_twice(engine))


async def ids_used_twice(engine: Engine) -> None:
    with engine.begin() as connection:
        for tenant_id in ("acme", "globex"):
            connection.execute(
                insert(tenants).values(id=tenant_id, name=tenant_id, created_at=0.0, allowed_origins=[], settings={})
            )
            connection.execute(
                insert(queues).values(tenant_id=tenant_id, id="sales", name="Sales", channel="phone", created_at=0.0)
            )

    def submit(node: ContactCenterNode, tenant_id: str, interaction_id: str) -> asyncio.Future[str]:
        command = cmd.SubmitInteraction(interaction_id, "sales", Channel.PHONE, from_address=tenant_id)
        return asyncio.ensure_future(
            node.execute_and_read(
                tenant_id,
                command,
                lambda cc: cc.interactions[interaction_id].state.value,
                new_interaction_id=interaction_id,
            )
        )

    node = ContactCenterNode(engine, Hub(), ManualClock())
    await node.start()
    try:
        assert await submit(node, "acme", "call-1") == "queued"
        await node.execute("acme", cmd.EndInteraction("call-1", "caller hung up"))
        # ended while this node runs: it remembers; a second live one in the same batch is refused by the rules
        again, twice = submit(node, "acme", "call-1"), submit(node, "acme", "call-2")
        also_twice = submit(node, "acme", "call-2")
        with pytest.raises(InteractionIdTaken):
            await again
        assert await twice == "queued"
        with pytest.raises(InvalidTransition, match="already exists"):
            await also_twice
        assert await submit(node, "globex", "call-1") == "queued", "ids are per tenant"
        await node.execute("acme", cmd.EndInteraction("call-2", "caller hung up"))
    finally:
        await node.stop()

    restarted = ContactCenterNode(engine, Hub(), ManualClock())  # knows nothing of what ended before
    await restarted.start()
    try:
        # the database refuses the old id inside the batch's transaction; the batch is redone without it
        reused, fresh = submit(restarted, "acme", "call-2"), submit(restarted, "acme", "call-3")
        with pytest.raises(InteractionIdTaken):
            await reused
        assert await fresh == "queued"
        with pytest.raises(InteractionIdTaken):
            await submit(restarted, "acme", "call-2")
        assert await restarted.read("acme", lambda cc: sorted(cc.interactions)) == ["call-3"]
    finally:
        await restarted.stop()
    with engine.connect() as connection:
        rows = connection.execute(
            select(interactions.c.tenant_id, interactions.c.id, interactions.c.state, interactions.c.from_address)
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("acme", "call-1", "abandoned", "acme"),
        ("acme", "call-2", "abandoned", "acme"),
        ("acme", "call-3", "queued", "acme"),
        ("globex", "call-1", "queued", "globex"),
    ], "no ended call's record was overwritten"


def test_a_restart_mid_consult_keeps_the_consulted_colleague_busy_until_the_consult_ends(engine: Engine) -> None:
    run_coroutine(restart_mid_consult(engine))


async def restart_mid_consult(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(tenants).values(id="acme", name="Acme", created_at=0.0, allowed_origins=[], settings={})
        )
        connection.execute(
            insert(queues).values(tenant_id="acme", id="sales", name="Sales", channel="phone", created_at=0.0)
        )
        add_agents(connection, "ann", "bob", queue_id="sales")
    node = ContactCenterNode(engine, Hub(), ManualClock())
    await node.start()
    try:
        for agent_id in ("ann", "bob"):
            await node.execute("acme", cmd.SignIn(agent_id))
        await node.execute("acme", cmd.SetPresence("ann", AgentStatus.AVAILABLE))
        await node.execute("acme", cmd.SubmitInteraction("call1", "sales", Channel.PHONE))
        await node.execute("acme", cmd.AcceptOffer("ann", "call1"))
        await node.execute("acme", cmd.SetPresence("bob", AgentStatus.AVAILABLE))
        await node.execute("acme", cmd.StartConsult("ann", "call1", "bob"))
    finally:
        await node.stop()

    def offered(events: list[Event]) -> list[tuple[str, str]]:
        return [(e.interaction_id, e.agent_id) for e in events if isinstance(e, InteractionOffered)]

    restarted = ContactCenterNode(engine, Hub(), ManualClock())  # rebuilds acme from the store
    await restarted.start()
    try:
        assert offered(await restarted.execute("acme", cmd.SubmitInteraction("call2", "sales", Channel.PHONE))) == []
        bob = await restarted.read("acme", lambda cc: (cc.agents["bob"].status, sorted(cc.agents["bob"].consulted_on)))
        assert bob == (AgentStatus.BUSY, ["call1"]), "bob is still talking to ann"
        events = await restarted.execute("acme", cmd.EndConsult("ann", "call1", "bob"))
        assert offered(events) == [("call2", "bob")]
    finally:
        await restarted.stop()


def test_a_subscriber_gets_a_summary_that_changed_back_after_its_snapshot(tmp_path: Path) -> None:
    run_coroutine(summary_changed_back(tmp_path))


async def summary_changed_back(tmp_path: Path) -> None:
    async with acme_node(tmp_path, "support", "chat") as node:
        await available_agent(node, "a1", "support")
        await node.publish_summaries_once()  # everyone has seen: one agent ready for support
        await node.execute("acme", cmd.SetPresence("a1", AgentStatus.BREAK, "coffee"))

        subscriber = Subscriber(tenant_id="acme", agent_id=None, supervisor=True)
        ready, unsubscribe = await node.subscribe(subscriber, lambda cc: cc.queue_snapshot("support").ready_agents)
        assert ready == 0  # the snapshot holds a change no digest has carried yet
        await node.execute("acme", cmd.SetPresence("a1", AgentStatus.AVAILABLE))  # back as last published
        await node.publish_summaries_once()

        frames = []
        while not subscriber.outbox.empty():
            frames.append(json.loads(subscriber.outbox.get_nowait() or "null"))
        queue_frames = [f for f in frames if f and f.get("type") == "queue.changed"]
        assert queue_frames, f"the subscriber was left with ready_agents 0: {frames}"
        assert queue_frames[-1]["queue"]["ready_agents"] == 1
        unsubscribe()


def test_a_tenant_nobody_hears_gets_no_frames_until_someone_subscribes(tmp_path: Path) -> None:
    run_coroutine(frames_only_when_heard(tmp_path))


async def frames_only_when_heard(tmp_path: Path) -> None:
    async with acme_node(tmp_path, "support", "chat") as node:
        await available_agent(node, "a1", "support")
        notifier = node._tenants["acme"].notifier
        assert not notifier.has_news, "no one subscribed: nothing was built or marked for a digest"

        subscriber = Subscriber(tenant_id="acme", agent_id="a1", supervisor=False)
        ready, unsubscribe = await node.subscribe(subscriber, lambda cc: cc.queue_snapshot("support").ready_agents)
        assert ready == 1  # the snapshot has what was not sent
        await node.execute("acme", cmd.SetPresence("a1", AgentStatus.BREAK, "coffee"))
        frames = []
        while not subscriber.outbox.empty():
            frames.append(json.loads(subscriber.outbox.get_nowait() or "null"))
        assert [f["agent"]["status"] for f in frames if f and f.get("type") == "agent.status_changed"] == ["break"]
        assert notifier.has_news, "heard: the summaries it touched wait for the digest"
        unsubscribe()


def test_the_heartbeat_sweep_spares_an_agent_seen_after_it_looked(tmp_path: Path) -> None:
    run_coroutine(sweep_on_stale_news(tmp_path))


async def sweep_on_stale_news(tmp_path: Path) -> None:
    """The sweep finds two silent agents, then applies one command per agent: the second agent's console
    comes back between the two (its ping and its own request are applied first), and must not be benched."""
    clock = ManualClock()
    async with acme_node(tmp_path, "sales", "phone", clock, heartbeat_timeout_seconds=30) as node:
        for agent_id in ("a1", "a2"):
            await available_agent(node, agent_id, "sales")
            node.seen("acme", agent_id)
        clock.advance(31)  # both consoles silent past the timeout

        sweep = asyncio.ensure_future(node.sweep_heartbeats_once())
        await asyncio.sleep(0)  # the sweep has made its list and waits for the first agent's command
        assert not sweep.done()
        node.seen("acme", "a2")  # a2's console is back, and a2 asks to be available (again)
        answer = asyncio.ensure_future(node.execute("acme", cmd.SetPresence("a2", AgentStatus.AVAILABLE)))
        await asyncio.wait_for(asyncio.gather(sweep, answer), timeout=10)

        statuses = await node.read(
            "acme", lambda cc: {a: (s.status.value, s.status_reason) for a, s in cc.agents.items()}
        )
        assert statuses == {"a1": ("break", "connection_lost"), "a2": ("available", "")}


@contextlib.asynccontextmanager
async def acme_node(
    tmp_path: Path, queue_id: str, channel: str, clock: ManualClock | None = None, **options: Any
) -> AsyncIterator[ContactCenterNode]:
    """A started node on a new SQLite database holding tenant acme with one queue."""
    engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(tenants).values(id="acme", name="Acme", created_at=0.0, allowed_origins=[], settings={})
        )
        connection.execute(
            insert(queues).values(tenant_id="acme", id=queue_id, name=queue_id.title(), channel=channel, created_at=0.0)
        )
    node = ContactCenterNode(engine, Hub(), clock or ManualClock(), **options)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()
        engine.dispose()


async def available_agent(node: ContactCenterNode, agent_id: str, queue_id: str) -> None:
    profile = AgentProfile(agent_id, f"{agent_id}@acme.example", agent_id.upper(), queue_ids=(queue_id,))
    await node.configure("acme", lambda cc, now: cc.upsert_agent(profile, now), lambda connection: None)
    await node.execute("acme", cmd.SignIn(agent_id))
    await node.execute("acme", cmd.SetPresence(agent_id, AgentStatus.AVAILABLE))


def add_agents(connection: Connection, *agent_ids: str, queue_id: str) -> None:
    """Agents of tenant acme as an admin saved them (logged out), members of one queue."""
    for n, agent_id in enumerate(agent_ids):
        connection.execute(
            insert(agents).values(
                tenant_id="acme",
                id=agent_id,
                email=f"{agent_id}@acme.example",
                display_name=agent_id.title(),
                roles=["agent"],
                skills={},
                capacity={"phone": 1, "chat": 3, "voicemail": 1},
                queue_ids=[queue_id],
                enabled=True,
                auto_login=True,
                created_at=float(n),
                status_since=0.0,
                idle_since=0.0,
            )
        )
