"""Agents' custom audio messages (greetings), recorded in the console (migration 0007_greetings).

The row holds what the audio is; the audio itself is a file at `<data_dir>/greetings/<tenant>/<id>`,
written atomically before the row is committed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKeyConstraint, Index, String, Table

from callbridge.store.tables import metadata

agent_greetings = Table(
    "agent_greetings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("name", String(80), nullable=False),
    Column("content_type", String(64), nullable=False),  # sniffed from the audio's first bytes
    Column("bytes", BigInteger, nullable=False),
    # how long it plays: read from a WAV file, else as measured by the console that recorded it (None: unknown)
    Column("duration_seconds", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id", "agent_id"], ["agents.tenant_id", "agents.id"], ondelete="CASCADE"),
    Index("ix_agent_greetings_agent", "tenant_id", "agent_id", "created_at"),
)
