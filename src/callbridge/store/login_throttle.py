"""Failed password sign-ins, per account and per client address (see callbridge.auth.login_throttle).

In the database, not in memory: a restart does not forgive an attacker, and every node of an installation
sees the same counts. Keys are `<kind>:<account>` and `<kind>-address:<address>`; no password is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Column, Engine, Float, Integer, String, Table, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.store.tables import metadata

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", Float, nullable=False),
    Column("blocked_until", Float, nullable=False),  # 0: not blocked
)


@dataclass(frozen=True, slots=True)
class FailureCount:
    key: str
    failures: int
    last_failure_at: float
    blocked_until: float


def blocked_until(engine: Engine, keys: Iterable[str]) -> float:
    """The latest end of a block on any of `keys` (0 if none is blocked or known)."""
    with engine.connect() as connection:
        found = connection.execute(
            select(login_failures.c.blocked_until).where(login_failures.c.key.in_(list(keys)))
        ).scalars()
        return max(found, default=0.0)


def record_failure(
    engine: Engine, keys: Iterable[str], now: float, forget_before: float, block: Callable[[str, int], float]
) -> list[FailureCount]:
    """Counts one failure on each key (a count whose last failure is older than `forget_before` starts again)
    and blocks each key until `now + block(key, failures)` when that is later than now. One transaction, an
    atomic upsert per key: concurrent failures on several nodes are all counted."""
    counts: list[FailureCount] = []
    with engine.begin() as connection:
        dialect = connection.dialect.name
        for key in keys:
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(login_failures)
            upsert = insert.values(key=key, failures=1, last_failure_at=now, blocked_until=0.0).on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "failures": case(
                        (login_failures.c.last_failure_at < forget_before, 1), else_=login_failures.c.failures + 1
                    ),
                    "last_failure_at": now,
                },
            )
            returning = upsert.returning(login_failures.c.failures, login_failures.c.blocked_until)
            failures, until = connection.execute(returning).one()
            delay = block(key, failures)
            if delay > 0 and now + delay > until:
                until = now + delay
                connection.execute(
                    update(login_failures).where(login_failures.c.key == key).values(blocked_until=until)
                )
            counts.append(FailureCount(key, failures, now, until))
    return counts


def forget(engine: Engine, keys: Iterable[str]) -> None:
    with engine.begin() as connection:
        connection.execute(delete(login_failures).where(login_failures.c.key.in_(list(keys))))


def recent_failures(engine: Engine, since: float, limit: int = 50) -> list[FailureCount]:
    """Keys that failed since `since`, the most recent first (for the administrators' page)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(login_failures)
            .where(login_failures.c.last_failure_at >= since)
            .order_by(login_failures.c.last_failure_at.desc())
            .limit(limit)
        )
        return [FailureCount(r.key, r.failures, r.last_failure_at, r.blocked_until) for r in rows]
