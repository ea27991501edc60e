"""The audit log's rows: appended in the transaction of the change they record, read newest first.

Every admin change (tenant, skill, queue, agent, API key, and the settings of other features) calls `record`
with the connection of the transaction that makes the change, so that a change and its audit row are committed
together or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, delete, func, insert, or_, select, update

from callbridge.domain.audit import Actor, AuditEntry, changes
from callbridge.store.audit_tables import audit_log


def record(
    connection: Connection,
    *,
    tenant_id: str,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    at: float | None = None,
) -> bool:
    """Appends one audit row in the caller's transaction.

    An update (`before` and `after` both given) that changes nothing writes
    nothing and returns False; a creation or deletion is always recorded.
    """
    diff = changes(before, after)
    if before is not None and after is not None and not diff:
        return False
    connection.execute(
        insert(audit_log).values(
            tenant_id=tenant_id,
            at=time.time() if at is None else at,
            actor_kind=actor.kind,
            actor_id=actor.id[:64],
            actor_name=actor.name[:320],
            action=action,
            target_type=target_type,
            target_id=target_id[:200],
            changes=diff,
        )
    )
    return True


def list_entries(
    engine: Engine,
    tenant_id: str,
    *,
    actor: str = "",
    target_type: str = "",
    target_id: str = "",
    since: float | None = None,
    until: float | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first. `actor` matches an actor's id exactly or their e-mail/name in part (any case)."""
    query = select(audit_log).where(audit_log.c.tenant_id == tenant_id)
    conditions = []
    if actor.strip():
        needle = actor.strip().lower()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(
            or_(audit_log.c.actor_id == actor.strip(), func.lower(audit_log.c.actor_name).like(f"%{escaped}%", "\\"))
        )
    if target_type:
        conditions.append(audit_log.c.target_type == target_type)
    if target_id:
        conditions.append(audit_log.c.target_id == target_id)
    if since is not None:
        conditions.append(audit_log.c.at >= since)
    if until is not None:
        conditions.append(audit_log.c.at < until)
    if before_id is not None:
        conditions.append(audit_log.c.id < before_id)
    if conditions:
        query = query.where(and_(*conditions))
    query = query.order_by(audit_log.c.id.desc()).limit(max(1, min(limit, 1000)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        AuditEntry(
            id=r.id,
            tenant_id=r.tenant_id,
            at=r.at,
            actor=Actor(r.actor_kind, r.actor_id, r.actor_name),
            action=r.action,
            target_type=r.target_type,
            target_id=r.target_id,
            changes=r.changes,
        )
        for r in rows
    ]


def target_types(engine: Engine, tenant_id: str) -> Sequence[str]:
    """The kinds of thing this tenant's log mentions (for the page's filter)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.target_type).where(audit_log.c.tenant_id == tenant_id).distinct()
        ).all()
    return sorted(r.target_type for r in rows)


def current_fields(
    connection: Connection, table: Table, tenant_id: str, row_id: str, fields: Iterable[str]
) -> dict[str, Any] | None:
    """The current values of `fields` of one row keyed by (tenant_id, id): the "before" of an audit entry, or
    None when there is no such row."""
    names = list(fields)
    found = connection.execute(
        select(*(table.c[n] for n in names)).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
    ).first()
    return None if found is None else dict(zip(names, found, strict=True))


def save_audited(
    connection: Connection,
    table: Table,
    kind: str,
    tenant_id: str,
    row_id: str,
    row: Mapping[str, Any],
    *,
    create: bool,
    actor: Actor,
    created: Mapping[str, Any] | None = None,
) -> None:
    """Inserts (`create`, with the `created` columns too) or updates the row (tenant_id, row_id) of a configured
    `kind` (agent, queue…) and audits the change as `kind.created` or `kind.updated`, in the caller's transaction."""
    before = None if create else current_fields(connection, table, tenant_id, row_id, row)
    if create:
        connection.execute(insert(table).values(tenant_id=tenant_id, **(created or {}), **row))
    else:
        connection.execute(update(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id).values(**row))
    record(
        connection,
        tenant_id=tenant_id,
        actor=actor,
        action=f"{kind}.created" if create else f"{kind}.updated",
        target_type=kind,
        target_id=row_id,
        before=before,
        after=dict(row),
    )


def remove_audited(
    connection: Connection, table: Table, kind: str, tenant_id: str, row_id: str, fields: Iterable[str], *, actor: Actor
) -> None:
    """Deletes the row (tenant_id, row_id) and audits `kind.deleted` with its `fields`, in the caller's transaction."""
    before = current_fields(connection, table, tenant_id, row_id, fields)
    connection.execute(delete(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id))
    record(
        connection,
        tenant_id=tenant_id,
        actor=actor,
        action=f"{kind}.deleted",
        target_type=kind,
        target_id=row_id,
        before=before or {},
    )
