"""Interactions as they were stored when they ended: an agent's own history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Row, select

from callbridge.store.tables import interactions


def recent_completed(engine: Engine, tenant_id: str, agent_id: str, limit: int) -> Sequence[Row[Any]]:
    """The agent's last `limit` completed interactions, newest first."""
    t = interactions
    with engine.connect() as connection:
        return connection.execute(
            select(t)
            .where(t.c.tenant_id == tenant_id, t.c.agent_id == agent_id, t.c.completed_at.is_not(None))
            .order_by(t.c.created_at.desc())
            .limit(limit)
        ).all()
