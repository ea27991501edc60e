"""Tables of the reports: pre-aggregated figures kept beside the append-only logs.

`report_agent_days` holds one row per agent and local day (in the tenant's time zone when it was
written); `report_queue_slots` one row per queue and 15-minute slot of UTC time (every time zone's
offset is a multiple of 15 minutes, so local hours and days are exact sums of slots). Both are
written in the same transaction as the log rows they summarise, and can be rebuilt from the logs
(`callbridge.store.report_aggregates.rebuild`). `report_agent_teams` names each agent's team (a filter).

The extra indexes on the logs and on `interactions` serve the agent timeline and interaction search.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table

from callbridge.store.tables import interaction_events, interactions, metadata

SLOT_SECONDS = 900

AGENT_DAY_SUMS = (
    "break_s",
    "available_s",
    "working_offline_s",
    "busy_s",
    "wrap_up_s",
    "sign_ins",
    "offers",
    "accepted",
    "missed",
    "handled_phone",
    "handled_chat",
    "handled_voicemail",
    "handle_s",
    "after_work_s",
)

report_agent_days = Table(
    "report_agent_days",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("agent_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, local
    *(Column(name, Float, nullable=False, default=0.0) for name in AGENT_DAY_SUMS),
    Column("first_sign_in_at", Float, nullable=True),
    Column("last_sign_out_at", Float, nullable=True),
)

QUEUE_SLOT_SUMS = (
    "offered",
    "answered",
    "answered_in_sl",
    "abandoned",
    "abandoned_in_sl",
    "answer_wait_s",
    "abandon_wait_s",
)

report_queue_slots = Table(
    "report_queue_slots",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("queue_id", String(64), primary_key=True),
    Column("slot", Integer, primary_key=True),  # epoch seconds, a multiple of SLOT_SECONDS
    *(Column(name, Float, nullable=False, default=0.0) for name in QUEUE_SLOT_SUMS),
    Column("max_wait_s", Float, nullable=False, default=0.0),
)

report_agent_teams = Table(
    "report_agent_teams",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("agent_id", String(64), primary_key=True),
    Column("team", String(100), nullable=False),
)

# indexes on tables defined in tables.py (created by migration 0004_reports)
ix_interaction_events_agent = Index(
    "ix_interaction_events_agent",
    interaction_events.c.tenant_id,
    interaction_events.c.agent_id,
    interaction_events.c.at,
)
ix_interactions_agent = Index(
    "ix_interactions_agent", interactions.c.tenant_id, interactions.c.agent_id, interactions.c.created_at
)
ix_interactions_queue = Index(
    "ix_interactions_queue", interactions.c.tenant_id, interactions.c.queue_id, interactions.c.created_at
)
ix_interactions_from = Index("ix_interactions_from", interactions.c.tenant_id, interactions.c.from_address)

# The wallboard's alert thresholds, per queue (set by supervisors and admins): a figure at or beyond its amber
# (red) threshold turns its tile amber (red). NULL: no threshold. Service level is in percent, lower is worse.
report_queue_thresholds = Table(
    "report_queue_thresholds",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("queue_id", String(64), primary_key=True),
    Column("waiting_amber", Integer, nullable=True),
    Column("waiting_red", Integer, nullable=True),
    Column("longest_wait_amber_seconds", Integer, nullable=True),
    Column("longest_wait_red_seconds", Integer, nullable=True),
    Column("service_level_amber_percent", Integer, nullable=True),
    Column("service_level_red_percent", Integer, nullable=True),
)

THRESHOLD_FIELDS = (
    "waiting_amber",
    "waiting_red",
    "longest_wait_amber_seconds",
    "longest_wait_red_seconds",
    "service_level_amber_percent",
    "service_level_red_percent",
)
