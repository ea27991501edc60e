"""The schema. Every tenant-owned table starts its primary key with tenant_id.

Times are stored as seconds since the epoch (UTC, double precision): the
domain works in those, reports bucket them in the tenant's time zone.
`interaction_events` and `agent_status_events` are append-only logs that
historical reports read; nothing updates or deletes their rows.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger primary keys autoincrement on PostgreSQL; SQLite needs INTEGER for its rowid alias.
LogId = BigInteger().with_variant(Integer(), "sqlite")

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("time_zone", String(64), nullable=False, default="UTC"),
    Column("phone_region", String(2), nullable=False, default="US"),
    Column("allowed_origins", JSON, nullable=False, default=list),
    Column("settings", JSON, nullable=False, default=dict),
    Column("created_at", Float, nullable=False),
)

admin_users = Table(
    "admin_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # "agent" or "admin"
    Column("tenant_id", String(64), nullable=True),
    Column("subject_id", String(64), nullable=False),  # agent id or admin user id
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_sessions_subject", "kind", "tenant_id", "subject_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

skills = Table(
    "skills",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("description", String(500), nullable=False, default=""),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

queues = Table(
    "queues",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("required_skills", JSON, nullable=False, default=dict),
    Column("priority", Integer, nullable=False, default=0),
    Column("service_level_seconds", Integer, nullable=False, default=20),
    Column("offer_timeout_seconds", Integer, nullable=False, default=20),
    Column("wrap_up_seconds", Integer, nullable=False, default=30),
    Column("offer_during_wrap_up", Boolean, nullable=False, default=False),
    Column("dispositions", JSON, nullable=False, default=list),
    Column("disposition_required", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

agents = Table(
    "agents",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("skills", JSON, nullable=False, default=dict),
    Column("capacity", JSON, nullable=False),
    Column("queue_ids", JSON, nullable=False, default=list),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("auto_login", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    # live state, rewritten as it changes (the history is in agent_status_events)
    Column("presence", String(16), nullable=False, default="logged_out"),
    Column("presence_reason", String(200), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="logged_out"),
    Column("status_reason", String(200), nullable=False, default=""),
    Column("status_since", Float, nullable=False),
    Column("idle_since", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_agents_email", "tenant_id", "email"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("queue_id", String(64), nullable=True),
    Column("state", String(16), nullable=False),
    Column("from_address", String(320), nullable=False, default=""),
    Column("to_address", String(320), nullable=False, default=""),
    # the addresses' dial digits (callbridge.phones.dial_digits), so a search by number finds any format
    Column("from_digits", String(20), nullable=False, default=""),
    Column("to_digits", String(20), nullable=False, default=""),
    Column("case_number", String(64), nullable=False, default=""),
    Column("data", JSON, nullable=False, default=dict),
    Column("priority", Integer, nullable=False, default=0),
    Column("wrap_up_seconds", Integer, nullable=False, default=0),
    Column("enqueued_at", Float, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("agent_id", String(64), nullable=True),
    Column("offer_id", String(80), nullable=True),
    Column("offer_deadline", Float, nullable=True),
    Column("offer_attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("connected_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("wrap_up_deadline", Float, nullable=True),
    Column("completed_at", Float, nullable=True),
    Column("disposition", String(200), nullable=False, default=""),
    Column("notes", Text, nullable=False, default=""),
    Column("end_reason", String(200), nullable=False, default=""),
    # the colleague a warm transfer's consult on this call is with, while it lasts (a phone place of theirs)
    Column("consult_agent_id", String(64), nullable=True),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_interactions_live", "tenant_id", "state"),
    Index("ix_interactions_created", "tenant_id", "created_at"),
    Index("ix_interactions_from_digits", "tenant_id", "from_digits"),
    Index("ix_interactions_to_digits", "tenant_id", "to_digits"),
)

interaction_events = Table(
    "interaction_events",
    metadata,
    Column("id", LogId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("interaction_id", String(64), nullable=False),
    Column("type", String(40), nullable=False),
    Column("at", Float, nullable=False),
    Column("agent_id", String(64), nullable=True),
    Column("queue_id", String(64), nullable=True),
    Column("detail", JSON, nullable=False, default=dict),
    Index("ix_interaction_events_at", "tenant_id", "at"),
    Index("ix_interaction_events_interaction", "tenant_id", "interaction_id"),
)

agent_status_events = Table(
    "agent_status_events",
    metadata,
    Column("id", LogId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("agent_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(200), nullable=False, default=""),
    Column("at", Float, nullable=False),
    Column("previous_status", String(16), nullable=False),
    Column("previous_since", Float, nullable=False),
    Index("ix_agent_status_events_at", "tenant_id", "at"),
    Index("ix_agent_status_events_agent", "tenant_id", "agent_id", "at"),
)

processed_requests = Table(
    "processed_requests",
    metadata,
    # idempotency of integration calls: one row per (tenant, key) already applied
    Column("tenant_id", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("response", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

# The tenant's ready-made texts for the agent console: wrap-up notes templates and chat quick replies
# (lists of strings, in the admin's order).
tenant_console_texts = Table(
    "tenant_console_texts",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("notes_templates", JSON, nullable=False, default=list),
    Column("quick_replies", JSON, nullable=False, default=list),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)
