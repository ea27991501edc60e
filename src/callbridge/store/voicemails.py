"""Voicemails' rows (`voicemails`): the stored audio's file name, size, digest, duration and transcription of a
voicemail interaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from callbridge.store.channel_tables import voicemails


def find(engine: Engine, tenant_id: str, interaction_id: str) -> Any:
    """The voicemail's row, or None."""
    with engine.connect() as connection:
        return connection.execute(
            select(voicemails).where(voicemails.c.tenant_id == tenant_id, voicemails.c.interaction_id == interaction_id)
        ).first()


def add(connection: Connection, tenant_id: str, row: dict[str, Any]) -> None:
    """Inserts the row in the caller's transaction (the node's batch that queues the interaction)."""
    connection.execute(insert(voicemails).values(tenant_id=tenant_id, **row))
