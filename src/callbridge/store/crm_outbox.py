"""Reads of the auto-log outbox (`crm_outbox`) for the admin's pages and API; the relay's claims and retries
live with the relay (services/outbox.py)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Engine, Row, select

from callbridge.store.crm_tables import crm_outbox


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
