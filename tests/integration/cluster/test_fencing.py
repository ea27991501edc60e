"""Two nodes on one PostgreSQL database: a tenant runs on the node holding its lease, a node whose lease
expired cannot write anything, tenants spread over the nodes and a graceful stop hands them over at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Engine, create_engine, func, insert, select

from callbridge.domain import commands as cmd
from callbridge.domain.model import Channel
from callbridge.realtime.hub import Hub
from callbridge.services.clock import SystemClock
from callbridge.services.cluster import LeaseKeeper
from callbridge.services.node import ContactCenterNode, TenantMoved
from callbridge.store import leases
from callbridge.store.tables import interaction_events, interactions, queues, tenants
from tests.conftest import run_coroutine
from tests.integration.cluster.conftest import DEADLINE_SECONDS

SHORT_LEASE = 1.0
LONG_LEASE = 60.0


@pytest.fixture
def second_engine(pg_schema: tuple[str, str], pg_engine: Engine) -> Iterator[Engine]:
    """Another connection pool to the same database, as a second process would have."""
    url, schema = pg_schema
    db = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield db
    db.dispose()


def _add_tenants(engine: Engine, *tenant_ids: str) -> None:
    with engine.begin() as connection:
        for tenant_id in tenant_ids:
            connection.execute(
                insert(tenants).values(id=tenant_id, name=tenant_id, created_at=0.0, allowed_origins=[], settings={})
            )
            connection.execute(
                insert(queues).values(tenant_id=tenant_id, id="sales", name="Sales", channel="phone", created_at=0.0)
            )


@asynccontextmanager
async def _node(
    engine: Engine, name: str, lease_seconds: float
) -> AsyncIterator[tuple[ContactCenterNode, LeaseKeeper]]:
    """A clustered node whose keeper runs only when the test says (`run_once`): a node whose keeper does not
    run is one that stopped renewing (paused, cut off)."""
    node = ContactCenterNode(engine, Hub(), SystemClock(), node_id=name)
    keeper = LeaseKeeper(engine, node, node_id=name, address=f"http://{name}", lease_seconds=lease_seconds)
    await node.start()
    try:
        yield node, keeper
    finally:
        await node.stop()


def _runs(node: ContactCenterNode, tenant_id: str) -> bool:
    try:
        return node.has_tenant(tenant_id)
    except TenantMoved:
        return False


async def _until(condition: Callable[[], object], what: str, step: Callable[[], object] | None = None) -> float:
    """Waits (running `step` between looks) until `condition` holds; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > DEADLINE_SECONDS:
            raise AssertionError(f"timed out after {DEADLINE_SECONDS} s waiting for {what}")
        if step is not None:
            result = step()
            if asyncio.iscoroutine(result):
                await result
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def _count(engine: Engine, table: object, **where: str) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    for column, value in where.items():
        query = query.where(table.c[column] == value)  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_a_node_whose_lease_expired_is_refused_and_drops_the_tenant(pg_engine: Engine, second_engine: Engine) -> None:
    run_coroutine(lease_expired(pg_engine, second_engine))


async def lease_expired(engine_a: Engine, engine_b: Engine) -> None:
    _add_tenants(engine_a, "acme")
    async with (
        _node(engine_a, "node-a", SHORT_LEASE) as (a, keeper_a),
        _node(engine_b, "node-b", SHORT_LEASE) as (
            b,
            keeper_b,
        ),
    ):
        await keeper_a.run_once()
        await keeper_b.run_once()
        assert _runs(a, "acme")
        assert not _runs(b, "acme"), "one node at a time"
        with pytest.raises(TenantMoved, match="node-a"):
            await b.execute("acme", cmd.SubmitInteraction("call0", "sales", Channel.PHONE))
        await a.execute("acme", cmd.SubmitInteraction("call1", "sales", Channel.PHONE))
        epoch_a = a.held_epochs()["acme"]

        # node A stops renewing (its keeper no longer runs: a paused or cut-off node); B takes over on expiry
        took = await _until(lambda: _runs(b, "acme"), "node B to take the tenant over", keeper_b.run_once)
        assert took >= SHORT_LEASE * 0.5, "not before A's lease expired"
        assert b.held_epochs()["acme"] > epoch_a
        assert _runs(a, "acme"), "A has not noticed: its keeper is not running"
        events_before = _count(engine_a, interaction_events, tenant_id="acme")

        # A's next batch is refused inside its transaction: nothing written, the caller told to retry elsewhere
        with pytest.raises(TenantMoved):
            await a.execute("acme", cmd.SubmitInteraction("call2", "sales", Channel.PHONE))
        assert not _runs(a, "acme"), "A dropped the tenant"
        assert _count(engine_a, interactions, id="call2") == 0
        assert _count(engine_a, interaction_events, tenant_id="acme") == events_before

        # B runs the tenant from what is committed, and writes under its own epoch
        waiting = await b.read("acme", lambda cc: [i.id for i in cc.waiting_in("sales")])
        assert waiting == ["call1"]
        await b.execute("acme", cmd.SubmitInteraction("call3", "sales", Channel.PHONE))
        assert _count(engine_b, interactions, id="call3") == 1

        # A's keeper wakes: it sees B holding the tenant and does not take it back (B is within its fair share)
        await keeper_a.run_once()
        assert not _runs(a, "acme")
        with pytest.raises(TenantMoved, match="node-b"):
            a.has_tenant("acme")


def test_a_graceful_stop_hands_tenants_over_without_waiting_for_expiry(
    pg_engine: Engine, second_engine: Engine
) -> None:
    run_coroutine(graceful_stop(pg_engine, second_engine))


async def graceful_stop(engine_a: Engine, engine_b: Engine) -> None:
    _add_tenants(engine_a, "acme", "globex")
    async with _node(engine_b, "node-b", LONG_LEASE) as (b, keeper_b):
        async with _node(engine_a, "node-a", LONG_LEASE) as (a, keeper_a):
            await keeper_a.run_once()
            assert _runs(a, "acme")
            assert _runs(a, "globex"), "alone, a node takes every tenant"
            await keeper_b.run_once()  # B joins: it finds no free tenant yet
            assert not _runs(b, "acme")
            assert not _runs(b, "globex")
            await keeper_a.run_once()  # A sees two nodes and hands its excess over
            await keeper_b.run_once()
            assert sorted(a.held_epochs()) == ["acme"]
            assert sorted(b.held_epochs()) == ["globex"], "tenants spread over the live nodes"
            await a.execute("acme", cmd.SubmitInteraction("call1", "sales", Channel.PHONE))
            await keeper_a.stop()
        with engine_b.connect() as connection:
            assert not leases.leases(connection)["acme"].live, "released, long before its 60 s expiry"
        await keeper_b.run_once()
        assert sorted(b.held_epochs()) == ["acme", "globex"]
        waiting = await b.read("acme", lambda cc: [i.id for i in cc.waiting_in("sales")])
        assert waiting == ["call1"]


def test_a_node_cut_off_from_the_database_stops_running_its_tenants_before_the_lease_expires(
    pg_engine: Engine, second_engine: Engine
) -> None:
    run_coroutine(cut_off(pg_engine, second_engine))


async def cut_off(engine: Engine, engine_b: Engine) -> None:
    _add_tenants(engine, "acme")
    unreachable = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test", connect_args={"connect_timeout": 1})
    lease = 3.0  # A steps down a third of a lease early: room enough to see it on a busy machine
    async with _node(engine, "node-a", lease) as (a, keeper_a), _node(engine_b, "node-b", lease) as (b, keeper_b):
        await keeper_a.run_once()
        assert _runs(a, "acme")
        keeper_a.engine = unreachable  # the lease keeper can no longer reach the database (a network cut)

        async def round_a() -> None:
            with contextlib.suppress(Exception):
                await keeper_a.run_once()

        await _until(lambda: not _runs(a, "acme"), "A to stop running the tenant", round_a)
        with engine.connect() as connection:
            assert leases.leases(connection)["acme"].live, "A stepped down before its lease expired"
        await _until(lambda: _runs(b, "acme"), "B to take the tenant over", keeper_b.run_once)
    unreachable.dispose()
