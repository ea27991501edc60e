"""Queue rows as an admin configures them: written in the node's batch (`ContactCenterNode.configure`), so the
row, its audit entry and the routing state change in one transaction."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, delete, insert, update

from callbridge.domain.audit import Actor
from callbridge.store.audit import current_fields, record
from callbridge.store.tables import queues

AUDITED_FIELDS = (
    "id",
    "name",
    "channel",
    "required_skills",
    "priority",
    "service_level_seconds",
    "offer_timeout_seconds",
    "wrap_up_seconds",
    "offer_during_wrap_up",
    "dispositions",
    "disposition_required",
)


def save(connection: Connection, tenant_id: str, row: dict[str, Any], *, create: bool, actor: Actor) -> None:
    """Inserts (`create`) or updates the queue `row["id"]`, and audits the change, in the caller's transaction."""
    queue_id = row["id"]
    before = None if create else current_fields(connection, queues, tenant_id, queue_id, row)
    if create:
        connection.execute(insert(queues).values(tenant_id=tenant_id, created_at=time.time(), **row))
    else:
        connection.execute(update(queues).where(queues.c.tenant_id == tenant_id, queues.c.id == queue_id).values(**row))
    record(
        connection,
        tenant_id=tenant_id,
        actor=actor,
        action="queue.created" if create else "queue.updated",
        target_type="queue",
        target_id=queue_id,
        before=before,
        after=row,
    )


def remove(connection: Connection, tenant_id: str, queue_id: str, *, actor: Actor) -> None:
    """Deletes the queue's row and audits it, in the caller's transaction."""
    before = current_fields(connection, queues, tenant_id, queue_id, AUDITED_FIELDS)
    connection.execute(delete(queues).where(queues.c.tenant_id == tenant_id, queues.c.id == queue_id))
    record(
        connection,
        tenant_id=tenant_id,
        actor=actor,
        action="queue.deleted",
        target_type="queue",
        target_id=queue_id,
        before=before or {},
    )
