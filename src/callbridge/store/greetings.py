"""Agents' recorded messages (greetings): the rows, and the audio files they name.

A message's audio is written (atomically) inside the transaction that inserts its row, after the per-agent
limit is checked, so a row never names a missing file and a refused upload leaves no file behind.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select, update

from callbridge.store.files import write_atomically
from callbridge.store.greeting_tables import agent_greetings


@dataclass(frozen=True, slots=True)
class Greeting:
    tenant_id: str
    id: str
    agent_id: str
    name: str
    content_type: str
    bytes: int
    duration_seconds: float | None
    created_at: float


def _greeting(row: object) -> Greeting:
    return Greeting(**{name: getattr(row, name) for name in Greeting.__slots__})


def find(engine: Engine, tenant_id: str, agent_id: str, greeting_id: str) -> Greeting | None:
    """The agent's own message (None for another agent's)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(agent_greetings).where(
                agent_greetings.c.tenant_id == tenant_id,
                agent_greetings.c.agent_id == agent_id,
                agent_greetings.c.id == greeting_id,
            )
        ).first()
    return None if row is None else _greeting(row)


def of_agent(engine: Engine, tenant_id: str, agent_id: str) -> list[Greeting]:
    """The agent's messages, newest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(agent_greetings)
            .where(agent_greetings.c.tenant_id == tenant_id, agent_greetings.c.agent_id == agent_id)
            .order_by(agent_greetings.c.created_at.desc())
        ).all()
    return [_greeting(r) for r in rows]


def add(engine: Engine, greeting: Greeting, audio: bytes, path: Path, *, at_most: int) -> bool:
    """Stores the message and its audio at `path`; False (nothing stored) when the agent has `at_most` already."""
    with engine.begin() as connection:
        count = connection.execute(
            select(func.count())
            .select_from(agent_greetings)
            .where(agent_greetings.c.tenant_id == greeting.tenant_id, agent_greetings.c.agent_id == greeting.agent_id)
        ).scalar_one()
        if count >= at_most:
            return False
        write_atomically(path, audio)
        try:
            connection.execute(
                insert(agent_greetings).values({name: getattr(greeting, name) for name in Greeting.__slots__})
            )
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
    return True


def rename(engine: Engine, tenant_id: str, greeting_id: str, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(agent_greetings)
            .where(agent_greetings.c.tenant_id == tenant_id, agent_greetings.c.id == greeting_id)
            .values(name=name)
        )


def remove(engine: Engine, tenant_id: str, greeting_id: str) -> None:
    """Deletes the row; the caller removes the file."""
    with engine.begin() as connection:
        connection.execute(
            delete(agent_greetings).where(agent_greetings.c.tenant_id == tenant_id, agent_greetings.c.id == greeting_id)
        )
