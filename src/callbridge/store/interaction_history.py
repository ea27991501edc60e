"""Interactions as they were stored when they ended: an agent's own history, a chat's transcript."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, inspect, select, text

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


def chat_transcript(connection: Connection, tenant_id: str, interaction_id: str) -> list[tuple[float, str, str]]:
    """A chat's messages (sent at, sender, text), in order, when the chat channel's tables are installed."""
    if not _has_chat_messages(connection):
        return []
    rows = connection.execute(
        text(
            "SELECT sender, text, sent_at FROM chat_messages "
            "WHERE tenant_id = :tenant AND interaction_id = :interaction ORDER BY seq"
        ),
        {"tenant": tenant_id, "interaction": interaction_id},
    ).all()
    return [(float(r.sent_at), str(r.sender), str(r.text)) for r in rows]


def _has_chat_messages(connection: Connection) -> bool:
    url = connection.engine.url.render_as_string(hide_password=True)
    cached = _CHAT_TABLE.get(url)
    if cached is None:
        cached = _CHAT_TABLE[url] = inspect(connection).has_table("chat_messages")
    return cached


_CHAT_TABLE: dict[str, bool] = {}
