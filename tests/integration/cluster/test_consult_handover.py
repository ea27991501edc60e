"""A warm transfer's consult survives its tenant moving node: the colleague consulted stays busy on the new
holder (offered no call) until the consult ends there, by EndConsult or with its call (whose carrier died with
the old holder: the voice failover cleanup fails the call, which ends the consult)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Engine, create_engine, select

from callbridge.channels.voice_nodes import VOICE_NODE, GoneCarriers
from callbridge.domain import commands as cmd
from callbridge.domain.events import Event, InteractionOffered
from callbridge.domain.model import AgentStatus, Channel
from callbridge.services.cluster import LeaseKeeper
from callbridge.services.node import ContactCenterNode
from callbridge.store.tables import interactions
from tests.conftest import run_coroutine
from tests.integration.cluster.test_fencing import (
    LONG_LEASE,
    SHORT_LEASE,
    _add_tenants,
    _node,
    _runs,
    _until,
)
from tests.integration.services.test_node import add_agents


@pytest.fixture
def engine_b(pg_schema: tuple[str, str], pg_engine: Engine) -> Iterator[Engine]:
    """Another connection pool to the same database, as the second node's process would have."""
    url, schema = pg_schema
    db = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield db
    db.dispose()


Move = Callable[[ContactCenterNode, LeaseKeeper, ContactCenterNode, LeaseKeeper], Awaitable[None]]


def _offers(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.interaction_id, e.agent_id) for e in events if isinstance(e, InteractionOffered)]


async def _colleague(node: ContactCenterNode, agent_id: str) -> tuple[str, list[str]]:
    return await node.read(
        "acme", lambda cc: (cc.agents[agent_id].status.value, sorted(cc.agents[agent_id].consulted_on))
    )


async def _ann_consults_bob(node: ContactCenterNode) -> None:
    """call1 (carried by node-a's voice controller) is connected to ann, who consults bob."""
    for agent_id in ("ann", "bob"):
        await node.execute("acme", cmd.SignIn(agent_id))
    await node.execute("acme", cmd.SetPresence("ann", AgentStatus.AVAILABLE))
    call = cmd.SubmitInteraction("call1", "sales", Channel.PHONE, data={VOICE_NODE: "node-a"})
    assert _offers(await node.execute("acme", call)) == [("call1", "ann")]
    await node.execute("acme", cmd.AcceptOffer("ann", "call1"))
    await node.execute("acme", cmd.SetPresence("bob", AgentStatus.AVAILABLE))
    await node.execute("acme", cmd.StartConsult("ann", "call1", "bob"))
    assert await _colleague(node, "bob") == ("busy", ["call1"])


async def _hand_over(a: ContactCenterNode, keeper_a: LeaseKeeper, b: ContactCenterNode, keeper_b: LeaseKeeper) -> None:
    await keeper_a.stop()  # a graceful stop releases the lease at once
    await keeper_b.run_once()


async def _expire(a: ContactCenterNode, keeper_a: LeaseKeeper, b: ContactCenterNode, keeper_b: LeaseKeeper) -> None:
    # A stops renewing, as a node killed with kill -9 does: B takes the tenant over when the lease expires
    await _until(lambda: _runs(b, "acme"), "node B to take the tenant over", keeper_b.run_once)


@asynccontextmanager
async def _moved_mid_consult(
    engine_a: Engine, engine_b: Engine, lease_seconds: float, move: Move
) -> AsyncIterator[ContactCenterNode]:
    """Runs the consult on A, moves the tenant to B, and checks that bob is still busy there."""
    _add_tenants(engine_a, "acme")
    with engine_a.begin() as connection:
        add_agents(connection, "ann", "bob", queue_id="sales")
    async with _node(engine_b, "node-b", lease_seconds) as (b, keeper_b):
        async with _node(engine_a, "node-a", lease_seconds) as (a, keeper_a):
            await keeper_a.run_once()
            assert _runs(a, "acme")
            await keeper_b.run_once()
            assert not _runs(b, "acme")
            await _ann_consults_bob(a)
            await move(a, keeper_a, b, keeper_b)
        assert _runs(b, "acme")

        # the new holder: bob, Available but talking to ann, is offered nothing
        assert _offers(await b.execute("acme", cmd.SubmitInteraction("call2", "sales", Channel.PHONE))) == []
        assert await b.read("acme", lambda cc: [i.id for i in cc.waiting_in("sales")]) == ["call2"]
        assert await _colleague(b, "bob") == ("busy", ["call1"])
        with engine_b.connect() as connection:
            saved = connection.execute(select(interactions.c.consult_agent_id).where(interactions.c.id == "call1"))
            assert saved.scalar_one() == "bob"
        yield b


def test_a_graceful_hand_over_keeps_the_consulted_colleague_busy_until_end_consult(
    pg_engine: Engine, engine_b: Engine
) -> None:
    run_coroutine(ended_on_the_new_holder(pg_engine, engine_b, LONG_LEASE, _hand_over))


def test_a_takeover_after_the_holder_dies_keeps_the_consulted_colleague_busy_until_end_consult(
    pg_engine: Engine, engine_b: Engine
) -> None:
    run_coroutine(ended_on_the_new_holder(pg_engine, engine_b, SHORT_LEASE, _expire))


async def ended_on_the_new_holder(engine_a: Engine, engine_b: Engine, lease_seconds: float, move: Move) -> None:
    async with _moved_mid_consult(engine_a, engine_b, lease_seconds, move) as b:
        # the consult is cancelled (the carrying voice node lives on and reports it to the holder): bob is free
        assert _offers(await b.execute("acme", cmd.EndConsult("ann", "call1", "bob"))) == [("call2", "bob")]
        assert await _colleague(b, "bob") == ("available", []), "rung for call2, talking to nobody"
        with engine_b.connect() as connection:
            saved = connection.execute(select(interactions.c.consult_agent_id).where(interactions.c.id == "call1"))
            assert saved.scalar_one() is None


def test_a_consult_whose_carrier_died_with_the_holder_ends_with_its_failed_call(
    pg_engine: Engine, engine_b: Engine
) -> None:
    run_coroutine(carrier_gone(pg_engine, engine_b))


async def carrier_gone(engine_a: Engine, engine_b: Engine) -> None:
    async with _moved_mid_consult(engine_a, engine_b, SHORT_LEASE, _expire) as b:
        # node-a carried call1 and its consult leg: both are gone. B's voice failover cleanup (after two lease
        # rounds without node-a) fails the call, and the consult ends with it
        gone = GoneCarriers(b)
        await gone.check(["node-b"])
        assert await gone.check(["node-b"]) == [("acme", "call1")]
        assert await b.read("acme", lambda cc: cc.interactions["call2"].agent_id) == "bob"
        assert await _colleague(b, "bob") == ("available", []), "rung for call2, talking to nobody"
