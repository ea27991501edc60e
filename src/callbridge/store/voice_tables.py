"""The voice channel's configuration (migration 0011_voice): dialled numbers and agents' desk phones; which of
an agent's phones rings (migration 0020_voice_phones).

Numbers (E.164 DIDs) are unique across tenants: the carrier trunk delivers a number, the number names the
tenant and the queue. A desk phone's SIP user name is unique too (one registrar realm); only the digest HA1
(md5 of `user:realm:password`) is kept, never the password.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Table, UniqueConstraint

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

# What a phone queue does with its calls beyond queueing (migration 0021_voice_recordings): recording (off | on,
# with an optional announcement played to the caller first) and the wait after which the caller is offered
# voicemail.
voice_queue_settings = Table(
    "voice_queue_settings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("queue_id", String(64), primary_key=True),
    Column("recording", String(8), nullable=False),  # off | on
    Column("announcement_greeting_id", String(64), nullable=True),
    Column("max_wait_seconds", Integer, nullable=True),
    Column("voicemail_queue_id", String(64), nullable=True),
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id", "queue_id"], ["queues.tenant_id", "queues.id"], ondelete="CASCADE"),
)

# How long a tenant keeps call recordings; a tenant without a row keeps them DEFAULT_RETENTION_DAYS.
voice_recording_retention = Table(
    "voice_recording_retention",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("days", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# A stored call recording: the file is <data_dir>/recordings/<tenant>/<file_name> (a stereo WAV, caller left,
# agent right), written before this row.
voice_recordings = Table(
    "voice_recordings",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("interaction_id", String(64), primary_key=True),
    Column("agent_id", String(64), nullable=True),
    Column("queue_id", String(64), nullable=False),
    Column("file_name", String(100), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("duration_seconds", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_voice_recordings_created", "tenant_id", "created_at"),
)

# A dialled number may answer with a menu (migration 0022_voice_menus): a prompt, then one key (DTMF) chooses a
# queue. The number's own queue is where a caller who chooses nothing valid goes; removing the number or a
# target queue removes its menu entries with it.
voice_menus = Table(
    "voice_menus",
    metadata,
    Column("number", String(32), ForeignKey("voice_numbers.number", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("greeting_id", String(64), nullable=True),  # an agent greeting as the prompt; None: the spoken default
    Column("attempts", Integer, nullable=False),  # how many times the prompt plays before the default queue
    Column("wait_seconds", Integer, nullable=False),  # how long a key is awaited after each prompt
    Column("updated_at", Float, nullable=False),
)

voice_menu_options = Table(
    "voice_menu_options",
    metadata,
    Column("number", String(32), ForeignKey("voice_menus.number", ondelete="CASCADE"), primary_key=True),
    Column("digit", String(1), primary_key=True),  # 0-9, * or #
    Column("tenant_id", String(64), nullable=False),
    Column("queue_id", String(64), nullable=False),
    ForeignKeyConstraint(["tenant_id", "queue_id"], ["queues.tenant_id", "queues.id"], ondelete="CASCADE"),
)
