"""Call recordings' rows (`voice_recordings`): the file each names, its size, digest and duration. The file is
written before its row (`channels/sip/recording.py`), so a row never names a missing file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert, select

from callbridge.store.voice_tables import voice_recording_retention, voice_recordings


def replace(engine: Engine, row: dict[str, Any]) -> None:
    """Stores the interaction's recording row in place of any earlier one, in one transaction."""
    with engine.begin() as connection:
        connection.execute(
            delete(voice_recordings).where(
                voice_recordings.c.tenant_id == row["tenant_id"],
                voice_recordings.c.interaction_id == row["interaction_id"],
            )
        )
        connection.execute(insert(voice_recordings).values(**row))


def find(engine: Engine, tenant_id: str, interaction_id: str) -> Any:
    """The interaction's recording row, or None."""
    with engine.connect() as connection:
        return connection.execute(
            select(voice_recordings).where(
                voice_recordings.c.tenant_id == tenant_id, voice_recordings.c.interaction_id == interaction_id
            )
        ).first()


def with_retention(engine: Engine) -> tuple[dict[str, int], list[Any]]:
    """Each tenant's retention in days (for those that set one), and tenant_id, interaction_id, file_name and
    created_at of every recording, read on one connection."""
    with engine.connect() as connection:
        kept = {row.tenant_id: int(row.days) for row in connection.execute(select(voice_recording_retention))}
        rows = connection.execute(
            select(
                voice_recordings.c.tenant_id,
                voice_recordings.c.interaction_id,
                voice_recordings.c.file_name,
                voice_recordings.c.created_at,
            )
        ).all()
    return kept, list(rows)


def remove(engine: Engine, tenant_id: str, interaction_id: str) -> None:
    """Deletes the recording's row, in a transaction of its own (the caller removes the file)."""
    with engine.begin() as connection:
        connection.execute(
            delete(voice_recordings).where(
                voice_recordings.c.tenant_id == tenant_id, voice_recordings.c.interaction_id == interaction_id
            )
        )
