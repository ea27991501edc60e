"""Tables of the channels: chat widget settings, chat conversations and transcripts, voicemail metadata.

They live on the shared `metadata` (migration 0005_channels). Transcripts are append-only: a message is
never edited or deleted, only its `delivered_at` is set once the other side has received it, and the
transcript stays after the chat has ended.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Float, ForeignKeyConstraint, Index, Integer, String, Table, Text

from callbridge.store.tables import metadata

chat_settings = Table(
    "chat_settings",
    metadata,
    # one row per tenant; absent means: no extra origins, no extra form fields
    Column("tenant_id", String(64), primary_key=True),
    Column("widget_origins", JSON, nullable=False, default=list),
    Column("form_fields", JSON, nullable=False, default=list),
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

chat_conversations = Table(
    "chat_conversations",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("interaction_id", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the customer's secret
    Column("customer_name", String(100), nullable=False),
    Column("customer_email", String(320), nullable=False),
    Column("origin", String(300), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("left_at", Float, nullable=True),  # when the customer left (or was let go)
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("interaction_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),  # 1, 2, … per conversation
    Column("sender", String(16), nullable=False),  # customer | agent
    Column("agent_id", String(64), nullable=True),
    Column("text", Text, nullable=False),
    Column("sent_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

voicemails = Table(
    "voicemails",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("interaction_id", String(64), primary_key=True),
    Column("content_type", String(32), nullable=False),
    Column("file_name", String(100), nullable=False),  # under data_dir/voicemail/<tenant>/
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("duration_seconds", Float, nullable=True),
    Column("transcription", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_voicemails_created", "tenant_id", "created_at"),
)
