"""A busy node keeps its leases, a wedged one loses them (PostgreSQL).

Renewals must not queue behind the node's own request traffic (the default thread pool every request's
database work runs in), and must stop when the node's event loop no longer runs: a node that cannot serve its
tenants must not keep them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from callbridge.store import leases
from tests.conftest import run_coroutine
from tests.integration.cluster.conftest import DEADLINE_SECONDS
from tests.integration.cluster.test_fencing import _add_tenants, _node, _runs, _until

LEASE = 1.0


@pytest.fixture
def traffic_engine(pg_schema: tuple[str, str], pg_engine: Engine) -> Iterator[Engine]:
    """The connections of the node's request traffic (as many as the default thread pool may use at once)."""
    url, schema = pg_schema
    db = create_engine(url, pool_size=40, connect_args={"options": f"-csearch_path={schema}"})
    yield db
    db.dispose()


def _lease(engine: Engine, tenant_id: str) -> leases.Lease:
    with engine.connect() as connection:
        return leases.leases(connection)[tenant_id]


def test_renewals_keep_up_while_the_default_thread_pool_is_saturated(pg_engine: Engine, traffic_engine: Engine) -> None:
    run_coroutine(saturated(pg_engine, traffic_engine))


async def saturated(engine: Engine, traffic: Engine) -> None:
    _add_tenants(engine, "acme")
    loop = asyncio.get_running_loop()

    def request() -> None:  # a request's database work, in the default thread pool as every request's is
        with traffic.connect() as connection:
            connection.execute(text("SELECT pg_sleep(0.2)"))

    async with _node(engine, "node-a", LEASE) as (a, keeper):
        await keeper.start()
        try:
            epoch = a.held_epochs()["acme"]
            watching = 4 * LEASE
            pending: list[asyncio.Future[None]] = []
            started = time.monotonic()
            lowest_left = LEASE
            while time.monotonic() - started < watching:
                # the queue of the default pool never empties: 40 requests of 0.2 s wait at any moment
                pending = [f for f in pending if not f.done()]
                pending += [loop.run_in_executor(None, request) for _ in range(40 - len(pending))]
                lease = _lease(engine, "acme")
                assert (lease.holder, lease.epoch) == ("node-a", epoch)
                assert lease.live, f"the lease ran out {time.monotonic() - started:.2f} s into the saturation"
                lowest_left = min(lowest_left, lease.seconds_left)
                assert _runs(a, "acme"), "the node dropped its tenant"
                await asyncio.sleep(0.05)
            assert lowest_left > 0
        finally:
            for future in pending:
                future.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await keeper.stop()


def test_a_node_whose_event_loop_is_wedged_loses_its_leases(pg_engine: Engine) -> None:
    run_coroutine(wedged(pg_engine))


async def wedged(engine: Engine) -> None:
    _add_tenants(engine, "acme")
    async with _node(engine, "node-a", LEASE) as (a, keeper):
        await keeper.start()
        try:
            epoch = a.held_epochs()["acme"]
            expired = threading.Event()

            def watch() -> None:  # from outside the node: the lease as the database sees it
                end = time.monotonic() + DEADLINE_SECONDS
                while time.monotonic() < end and not expired.is_set():
                    if not _lease(engine, "acme").live:
                        expired.set()
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch)
            watcher.start()
            # the loop is stuck in a blocking call (a bug, a runaway computation): it serves nothing, and nothing
            # else of this node may keep the lease alive meanwhile
            wedged_at = time.monotonic()
            while not expired.is_set() and time.monotonic() - wedged_at < DEADLINE_SECONDS:
                time.sleep(0.05)  # noqa: ASYNC251 - blocking the loop is the point
            watcher.join()
            assert expired.is_set(), f"the lease stayed live for {DEADLINE_SECONDS} s of a wedged event loop"
            # the loop runs again: the keeper finds the lease gone and the node stops running the tenant under
            # that epoch (alone in the cluster, it may take the tenant again, under a new one)
            await _until(lambda: a.held_epochs().get("acme") != epoch, "the node to drop the tenant")
            lease = _lease(engine, "acme")
            assert not (lease.live and lease.holder == "node-a" and lease.epoch == epoch), "not renewed as it was"
        finally:
            await keeper.stop()
