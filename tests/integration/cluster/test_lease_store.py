"""The lease rows: acquire, renew, take over after expiry (the epoch goes up), release, fence."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, insert, select

from callbridge.store import leases
from callbridge.store.leases import LeaseLost
from callbridge.store.tables import tenants
from tests.integration.cluster.conftest import wait_until

LONG = 60.0
SHORT = 0.3


def _expired(engine: Engine, tenant_id: str) -> bool:
    with engine.connect() as connection:
        return not leases.leases(connection)[tenant_id].live


def test_the_first_node_takes_a_free_lease_and_the_second_is_refused(pg_engine: Engine) -> None:
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", LONG)
        second = leases.acquire(connection, "acme", "node-b", LONG)
    assert first is not None
    assert (first.holder, first.epoch, first.live) == ("node-a", 1, True)
    assert 0 < first.seconds_left <= LONG
    assert second is None


def test_the_holder_renews_without_changing_the_epoch(pg_engine: Engine) -> None:
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", SHORT)
    assert first is not None
    with pg_engine.begin() as connection:
        renewed = leases.renew(connection, "node-a", {"acme": first.epoch}, LONG)
    assert renewed["acme"].epoch == first.epoch
    assert renewed["acme"].seconds_left > SHORT


def test_a_node_restarted_under_the_same_name_takes_its_lease_back_under_a_new_epoch(pg_engine: Engine) -> None:
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", LONG)
        again = leases.acquire(connection, "acme", "node-a", LONG)
        assert first is not None
        assert again is not None
        assert again.epoch == first.epoch + 1
        assert leases.renew(connection, "node-a", {"acme": first.epoch}, LONG) == {}, "the old epoch is fenced off"


def test_an_expired_lease_is_taken_over_with_a_higher_epoch_and_the_old_holder_cannot_renew(
    pg_engine: Engine,
) -> None:
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", SHORT)
        assert first is not None
        assert leases.acquire(connection, "acme", "node-b", LONG) is None, "not before expiry"
    wait_until(lambda: _expired(pg_engine, "acme"), "the lease to expire by the database's clock")
    with pg_engine.begin() as connection:
        taken = leases.acquire(connection, "acme", "node-b", LONG)
        assert taken is not None
        assert (taken.holder, taken.epoch) == ("node-b", first.epoch + 1)
        assert leases.renew(connection, "node-a", {"acme": first.epoch}, LONG) == {}
        assert leases.acquire(connection, "acme", "node-a", LONG) is None


def test_a_holder_whose_lease_expired_gets_a_new_epoch_when_it_takes_it_again(pg_engine: Engine) -> None:
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", SHORT)
    assert first is not None
    wait_until(lambda: _expired(pg_engine, "acme"), "the lease to expire")
    with pg_engine.begin() as connection:
        assert leases.renew(connection, "node-a", {"acme": first.epoch}, LONG) == {}
        again = leases.acquire(connection, "acme", "node-a", LONG)
    assert again is not None
    assert again.epoch == first.epoch + 1


def test_a_released_lease_is_free_at_once(pg_engine: Engine) -> None:
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", LONG)
        assert first is not None
        leases.release(connection, "node-b", ["acme"])  # only the holder can release
        assert leases.acquire(connection, "acme", "node-b", LONG) is None
        leases.release(connection, "node-a", ["acme"])
        assert not leases.leases(connection)["acme"].live
        taken = leases.acquire(connection, "acme", "node-b", LONG)
    assert taken is not None
    assert taken.epoch == first.epoch + 1


def test_fence_passes_for_the_holder_and_refuses_a_stale_epoch_inside_the_transaction(pg_engine: Engine) -> None:
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", SHORT)
        assert first is not None
        leases.fence(connection, "node-a", {"acme": first.epoch})
    wait_until(lambda: _expired(pg_engine, "acme"), "the lease to expire")
    with pg_engine.begin() as connection:
        assert leases.acquire(connection, "acme", "node-b", LONG) is not None
    with pg_engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(insert(tenants).values(id="acme", name="Acme", created_at=0.0))
        with pytest.raises(LeaseLost) as refused:
            leases.fence(connection, "node-a", {"acme": first.epoch})
        transaction.rollback()
    assert refused.value.tenant_ids == {"acme"}
    with pg_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tenants)).scalar() == 0, "rolled back"


def test_fence_holds_off_a_takeover_until_the_batch_commits(pg_engine: Engine) -> None:
    """A batch that proved its lease keeps the row locked: a takeover waits for the commit, so the batch's
    writes land before the new holder loads the tenant, never after."""
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", SHORT)
    assert first is not None
    with pg_engine.begin() as batch:
        leases.fence(batch, "node-a", {"acme": first.epoch})
        wait_until(lambda: _expired(pg_engine, "acme"), "the lease to expire while the batch is open")
        with pg_engine.connect() as other:
            other.exec_driver_sql("SET lock_timeout = '200ms'")
            with pytest.raises(Exception, match="lock timeout"):
                leases.acquire(other, "acme", "node-b", LONG)
    with pg_engine.begin() as connection:
        taken = leases.acquire(connection, "acme", "node-b", LONG)
    assert taken is not None
    assert taken.epoch == first.epoch + 1


def test_a_renewal_does_not_wait_for_a_batch_in_flight(pg_engine: Engine) -> None:
    """A busy node always has a batch holding some lease rows: its renewals must not queue behind them (they
    only move the expiry), while a takeover still does (test above)."""
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", LONG)
    assert first is not None
    with pg_engine.begin() as batch:
        leases.fence(batch, "node-a", {"acme": first.epoch})
        renewed = leases.renew_held(pg_engine, "node-a", "http://a", {"acme": first.epoch}, LONG, lock_wait_seconds=0.2)
        assert renewed["acme"].epoch == first.epoch
        with pg_engine.connect() as other:
            other.exec_driver_sql("SET lock_timeout = '200ms'")
            with pytest.raises(Exception, match="lock timeout"):
                leases.release(other, "node-a", ["acme"])


def test_heartbeats_list_the_live_nodes(pg_engine: Engine) -> None:
    with pg_engine.begin() as connection:
        assert leases.heartbeat(connection, "node-b", "http://b", LONG) == ["node-b"]
        assert leases.heartbeat(connection, "node-a", "http://a", SHORT) == ["node-a", "node-b"]

    def only_b_left() -> bool:
        with pg_engine.begin() as connection:
            return leases.heartbeat(connection, "node-b", "http://b", LONG) == ["node-b"]

    wait_until(only_b_left, "node-a's heartbeat to expire")
    with pg_engine.begin() as connection:
        leases.leave(connection, "node-b")
        assert leases.node_addresses(connection) == {}


def test_a_batch_left_idle_past_its_limit_is_ended_by_the_database_and_frees_the_lease(pg_engine: Engine) -> None:
    """A node paused in the middle of a batch: the database ends its transaction, so the lease row it locked
    can be taken over once the lease has expired."""
    with pg_engine.begin() as connection:
        first = leases.acquire(connection, "acme", "node-a", SHORT)
    assert first is not None
    paused = pg_engine.connect()
    paused.begin()
    leases.fence(paused, "node-a", {"acme": first.epoch}, idle_limit_seconds=SHORT)
    backend = paused.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    def ended() -> bool:
        with pg_engine.connect() as connection:
            found = connection.exec_driver_sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {int(backend)}")
            return found.scalar() == 0

    wait_until(ended, "the database to end the idle transaction")
    with pg_engine.begin() as connection:
        taken = leases.acquire(connection, "acme", "node-b", LONG)
    assert taken is not None
    assert taken.epoch == first.epoch + 1
    with pytest.raises(Exception, match="terminat|closed|idle"):
        paused.exec_driver_sql("SELECT 1")
    paused.invalidate()
    paused.close()
