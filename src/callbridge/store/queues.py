"""Queue rows as an admin configures them: written in the node's batch (`ContactCenterNode.configure`), so the
row, its audit entry and the routing state change in one transaction."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection

from callbridge.domain.audit import Actor
from callbridge.store.audit import remove_audited, save_audited
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
    created = {"created_at": time.time()}
    save_audited(connection, queues, "queue", tenant_id, row["id"], row, create=create, actor=actor, created=created)


def remove(connection: Connection, tenant_id: str, queue_id: str, *, actor: Actor) -> None:
    """Deletes the queue's row and audits it, in the caller's transaction."""
    remove_audited(connection, queues, "queue", tenant_id, queue_id, AUDITED_FIELDS, actor=actor)
