"""The auto-log outbox (`crm_outbox`): the relay's claims and outcomes (services/outbox.py delivers), an admin's
retry, and the reads of the admin's pages and API."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.domain.audit import Actor
from callbridge.store.audit import record
from callbridge.store.crm_tables import crm_outbox


@dataclass(frozen=True, slots=True)
class ClaimedLog:
    """A due row the relay took: no other relay takes it again until its lease runs out."""

    tenant_id: str
    interaction_id: str
    crm: str
    payload: dict[str, Any]
    attempts: int


def entries(
    engine: Engine, tenant_id: str, statuses: Collection[str] | None = None, limit: int = 100
) -> Sequence[Row[Any]]:
    """Newest first; `statuses` keeps only those (pending, sent, failed)."""
    query = select(crm_outbox).where(crm_outbox.c.tenant_id == tenant_id)
    if statuses is not None:
        query = query.where(crm_outbox.c.status.in_(tuple(statuses)))
    with engine.connect() as connection:
        return connection.execute(query.order_by(crm_outbox.c.created_at.desc()).limit(limit)).all()


def entry(engine: Engine, tenant_id: str, interaction_id: str) -> Row[Any] | None:
    with engine.connect() as connection:
        return connection.execute(
            select(crm_outbox).where(crm_outbox.c.tenant_id == tenant_id, crm_outbox.c.interaction_id == interaction_id)
        ).first()


def add_entry(
    connection: Connection,
    tenant_id: str,
    interaction_id: str,
    crm: str,
    payload: dict[str, Any],
    now: float,
    due_at: float | None = None,
) -> None:
    """A pending log, due at `due_at` (default now), in the caller's transaction (the node's batch). One row per
    interaction: a second completion of the same id (it cannot happen) changes nothing."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(
        insert(crm_outbox)
        .values(
            tenant_id=tenant_id,
            interaction_id=interaction_id,
            crm=crm,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now if due_at is None else due_at,
            last_error="",
            error_code="",
            activity_id="",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "interaction_id"])
    )


def make_due(engine: Engine, tenant_id: str, interaction_id: str, now: float) -> None:
    """A log put off while its screen pop searched is due now (never tried yet, so no retry is hurried)."""
    with engine.begin() as connection:
        connection.execute(
            update(crm_outbox)
            .where(
                crm_outbox.c.tenant_id == tenant_id,
                crm_outbox.c.interaction_id == interaction_id,
                crm_outbox.c.status == "pending",
                crm_outbox.c.attempts == 0,
                crm_outbox.c.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )


def claim(engine: Engine, now: float, *, lease_seconds: float, at_most: int) -> list[ClaimedLog]:
    """Takes up to `at_most` rows due at `now`, pushing each one's next attempt a lease ahead. PostgreSQL skips
    rows another relay is claiming (FOR UPDATE SKIP LOCKED); SQLite has one writer."""
    with engine.begin() as connection:
        query = (
            select(
                crm_outbox.c.tenant_id,
                crm_outbox.c.interaction_id,
                crm_outbox.c.crm,
                crm_outbox.c.payload,
                crm_outbox.c.attempts,
            )
            .where(crm_outbox.c.status == "pending", crm_outbox.c.next_attempt_at <= now)
            .order_by(crm_outbox.c.next_attempt_at)
            .limit(at_most)
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = connection.execute(query).all()
        for row in rows:
            connection.execute(
                update(crm_outbox)
                .where(crm_outbox.c.tenant_id == row.tenant_id, crm_outbox.c.interaction_id == row.interaction_id)
                .values(next_attempt_at=now + lease_seconds)
            )
    return [ClaimedLog(r.tenant_id, r.interaction_id, r.crm, dict(r.payload), int(r.attempts)) for r in rows]


def next_due(engine: Engine) -> float | None:
    """When the earliest pending row is due (None: nothing pending)."""
    with engine.connect() as connection:
        value = connection.execute(
            select(func.min(crm_outbox.c.next_attempt_at)).where(crm_outbox.c.status == "pending")
        ).scalar()
    return float(value) if value is not None else None


def update_entry(engine: Engine, tenant_id: str, interaction_id: str, **values: Any) -> None:
    """A delivery's outcome: status, attempts, error, next attempt, activity id."""
    with engine.begin() as connection:
        connection.execute(
            update(crm_outbox)
            .where(crm_outbox.c.tenant_id == tenant_id, crm_outbox.c.interaction_id == interaction_id)
            .values(**values)
        )


def backlog(engine: Engine) -> tuple[dict[str, int], float | None]:
    """How many rows are pending and failed (all tenants), and when the oldest pending one was created."""
    with engine.connect() as connection:
        counts: dict[str, int] = dict(
            connection.execute(
                select(crm_outbox.c.status, func.count())
                .where(crm_outbox.c.status != "sent")
                .group_by(crm_outbox.c.status)
            ).all()
        )
        oldest = connection.execute(
            select(func.min(crm_outbox.c.created_at)).where(crm_outbox.c.status == "pending")
        ).scalar()
    return counts, oldest


def retry(engine: Engine, tenant_id: str, interaction_id: str, now: float, actor: Actor | None = None) -> bool:
    """An admin fixed the cause: the row is tried again at once (failed or pending alike).

    With an `actor`, the retry is audited in the same transaction."""
    with engine.begin() as connection:
        previous = connection.execute(
            select(crm_outbox.c.status, crm_outbox.c.attempts, crm_outbox.c.error_code).where(
                crm_outbox.c.tenant_id == tenant_id, crm_outbox.c.interaction_id == interaction_id
            )
        ).first()
        result = connection.execute(
            update(crm_outbox)
            .where(
                crm_outbox.c.tenant_id == tenant_id,
                crm_outbox.c.interaction_id == interaction_id,
                crm_outbox.c.status != "sent",
            )
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
        )
        if result.rowcount and actor is not None and previous is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="auto_log.retried",
                target_type="auto_log",
                target_id=interaction_id,
                before={"status": previous.status, "attempts": previous.attempts, "error_code": previous.error_code},
                after={"status": "pending", "attempts": 0, "error_code": previous.error_code, "retry": True},
                at=now,
            )
    return bool(result.rowcount)
