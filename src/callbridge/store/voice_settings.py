"""Reads behind the voice admin page and the voice settings' checks: a tenant's queues of one channel, its
greetings, its agents, a phone queue's stored settings and the recording retention as they were before a
change (for the audit entry), and the transaction a hold-music change records its audit entry in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, select

from callbridge.store.greeting_tables import agent_greetings
from callbridge.store.tables import agents, queues
from callbridge.store.voice_tables import voice_queue_settings, voice_recording_retention

QUEUE_SETTING_COLUMNS = ("recording", "announcement_greeting_id", "max_wait_seconds", "voicemail_queue_id")


def queue_ids(engine: Engine, tenant_id: str, channel: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(queues.c.id)
                .where(queues.c.tenant_id == tenant_id, queues.c.channel == channel)
                .order_by(queues.c.id)
            )
            .scalars()
            .all()
        )


def greetings(engine: Engine, tenant_id: str) -> list[tuple[str, str]]:
    """(id, name) of the tenant's greetings, by name."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(agent_greetings.c.id, agent_greetings.c.name)
            .where(agent_greetings.c.tenant_id == tenant_id)
            .order_by(agent_greetings.c.name, agent_greetings.c.id)
        ).all()
    return [(row.id, row.name) for row in rows]


def greeting_exists(connection: Connection, tenant_id: str, greeting_id: str) -> bool:
    found = connection.execute(
        select(agent_greetings.c.id).where(
            agent_greetings.c.tenant_id == tenant_id, agent_greetings.c.id == greeting_id
        )
    ).first()
    return found is not None


def agent_ids(engine: Engine, tenant_id: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(select(agents.c.id).where(agents.c.tenant_id == tenant_id).order_by(agents.c.id))
            .scalars()
            .all()
        )


def stored_queue_settings(connection: Connection, tenant_id: str, queue_id: str) -> dict[str, Any] | None:
    """A phone queue's settings as stored (None: never set), in the transaction that is about to change them."""
    row: Any = connection.execute(
        select(voice_queue_settings).where(
            voice_queue_settings.c.tenant_id == tenant_id, voice_queue_settings.c.queue_id == queue_id
        )
    ).first()
    return None if row is None else {name: getattr(row, name) for name in QUEUE_SETTING_COLUMNS}


def stored_retention_days(connection: Connection, tenant_id: str) -> int | None:
    days = connection.execute(
        select(voice_recording_retention.c.days).where(voice_recording_retention.c.tenant_id == tenant_id)
    ).scalar()
    return None if days is None else int(days)


def hold_music_changed(engine: Engine, audit: Callable[[Connection], object]) -> None:
    """The hold music itself is a file; its change writes only the audit entry, in a transaction of its own."""
    with engine.begin() as connection:
        audit(connection)
