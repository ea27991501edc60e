"""Failed sign-in counts on SQLite and PostgreSQL: counted atomically, blocked, forgotten."""

from __future__ import annotations

from sqlalchemy import Engine

from callbridge.store import login_throttle as store


def block_from_third(_key: str, failures: int) -> float:
    return 10.0 * (failures - 2) if failures >= 3 else 0.0


def test_failures_count_block_and_are_forgotten(engine: Engine) -> None:
    keys = ("admin:a@example.com", "admin-address:10.0.0.1")
    for now in (100.0, 101.0):
        counts = store.record_failure(engine, keys, now, forget_before=0.0, block=block_from_third)
        assert [c.blocked_until for c in counts] == [0.0, 0.0]
    assert store.blocked_until(engine, keys) == 0.0
    counts = store.record_failure(engine, keys, 102.0, forget_before=0.0, block=block_from_third)
    assert [(c.failures, c.blocked_until) for c in counts] == [(3, 112.0), (3, 112.0)]
    assert store.blocked_until(engine, [keys[1], "admin:someone-else"]) == 112.0
    assert {c.key for c in store.recent_failures(engine, since=50.0)} == set(keys)

    # a failure long after the last one starts a new count (the old block stays until it ends)
    counts = store.record_failure(engine, keys[:1], 5000.0, forget_before=4000.0, block=block_from_third)
    assert [(c.failures, c.blocked_until) for c in counts] == [(1, 112.0)]

    store.forget(engine, keys)
    assert store.blocked_until(engine, keys) == 0.0
    assert store.recent_failures(engine, since=0.0) == []
