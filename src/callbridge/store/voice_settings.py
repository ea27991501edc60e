"""Reads behind the voice admin page and the voice settings' checks: a tenant's queues of one channel, its
greetings, its agents, a phone queue's stored settings and the recording retention as they were before a
change (for the audit entry), and the transaction a hold-music change records its audit entry in; a phone
queue's settings and the recording retention replaced, each with its audit entry in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from callbridge.domain.audit import Actor
from callbridge.store.audit import record
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


def queue_channel(engine: Engine, tenant_id: str, queue_id: str) -> str | None:
    """The queue's channel, or None for no such queue."""
    with engine.connect() as connection:
        channel = connection.execute(
            select(queues.c.channel).where(queues.c.tenant_id == tenant_id, queues.c.id == queue_id)
        ).scalar()
    return None if channel is None else str(channel)


def queue_settings_row(engine: Engine, tenant_id: str, queue_id: str) -> Any:
    """A phone queue's stored settings row, or None (never set)."""
    with engine.connect() as connection:
        return connection.execute(
            select(voice_queue_settings).where(
                voice_queue_settings.c.tenant_id == tenant_id, voice_queue_settings.c.queue_id == queue_id
            )
        ).first()


def replace_queue_settings(
    engine: Engine,
    tenant_id: str,
    queue_id: str,
    values: dict[str, Any],
    now: float,
    *,
    check: Callable[[Mapping[str, str], Callable[[str], bool]], None],
    actor: Actor | None,
) -> None:
    """Replaces a phone queue's settings (`QUEUE_SETTING_COLUMNS`) and, with an `actor`, audits the change
    (`voice_queue.updated`), in one transaction. `check(channels, greeting_exists)` runs first in it, with the
    tenant's queues' channels by id and a test of a greeting id; what it raises leaves everything as it was."""
    with engine.begin() as connection:
        channels = {
            row.id: row.channel
            for row in connection.execute(select(queues.c.id, queues.c.channel).where(queues.c.tenant_id == tenant_id))
        }
        check(channels, lambda greeting_id: greeting_exists(connection, tenant_id, greeting_id))
        before = stored_queue_settings(connection, tenant_id, queue_id)
        connection.execute(
            delete(voice_queue_settings).where(
                voice_queue_settings.c.tenant_id == tenant_id, voice_queue_settings.c.queue_id == queue_id
            )
        )
        connection.execute(
            insert(voice_queue_settings).values(tenant_id=tenant_id, queue_id=queue_id, updated_at=now, **values)
        )
        if actor is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="voice_queue.updated",
                target_type="queue",
                target_id=queue_id,
                before=before,
                after=values,
                at=now,
            )


def retention_days(engine: Engine, tenant_id: str) -> int | None:
    """How many days the tenant keeps recordings, or None (never set: the default)."""
    with engine.connect() as connection:
        return stored_retention_days(connection, tenant_id)


def replace_retention_days(
    engine: Engine, tenant_id: str, days: int, now: float, *, actor: Actor | None, default_days: int
) -> None:
    """Stores the recording retention and, with an `actor`, audits it (an unset one as `default_days`), in one
    transaction."""
    with engine.begin() as connection:
        before = stored_retention_days(connection, tenant_id)
        connection.execute(delete(voice_recording_retention).where(voice_recording_retention.c.tenant_id == tenant_id))
        connection.execute(insert(voice_recording_retention).values(tenant_id=tenant_id, days=days, updated_at=now))
        if actor is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="voice_recording_retention.updated",
                target_type="tenant",
                target_id=tenant_id,
                before={"days": before if before is not None else default_days},
                after={"days": days},
                at=now,
            )
