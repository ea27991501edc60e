"""The voice channel's configuration (migration 0011_voice): dialled numbers and agents' desk phones; which of
an agent's phones rings (migration 0020_voice_phones).

Numbers (E.164 DIDs) are unique across tenants: the carrier trunk delivers a number, the number names the
tenant and the queue. A desk phone's SIP user name is unique too (one registrar realm); only the digest HA1
(md5 of `user:realm:password`) is kept, never the password.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKeyConstraint, String, Table, UniqueConstraint

from callbridge.store.tables import metadata

voice_numbers = Table(
    "voice_numbers",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("queue_id", String(64), nullable=False),
    Column("greeting_id", String(64), nullable=True),  # an agent greeting played before the hold music
    Column("created_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id", "queue_id"], ["queues.tenant_id", "queues.id"], ondelete="CASCADE"),
)

voice_desk_phones = Table(
    "voice_desk_phones",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("agent_id", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("ha1", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id", "agent_id"], ["agents.tenant_id", "agents.id"], ondelete="CASCADE"),
    UniqueConstraint("username", name="uq_voice_desk_phones_username"),
)

# Which phone rings when an agent is offered a call: "browser" (the console's softphone) or "desk". No row:
# the desk phone when the agent has one, else the browser.
voice_phones = Table(
    "voice_phones",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("agent_id", String(64), primary_key=True),
    Column("rings", String(16), nullable=False),
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id", "agent_id"], ["agents.tenant_id", "agents.id"], ondelete="CASCADE"),
)
