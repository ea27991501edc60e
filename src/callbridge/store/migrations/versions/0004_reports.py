"""reports: pre-aggregated agent days and queue slots, agent teams, indexes for timeline and search

Revision ID: 0004_reports
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_reports"
down_revision = "0001"
branch_labels = None
depends_on = None

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
QUEUE_SLOT_SUMS = (
    "offered",
    "answered",
    "answered_in_sl",
    "abandoned",
    "abandoned_in_sl",
    "answer_wait_s",
    "abandon_wait_s",
)


def upgrade() -> None:
    op.create_table(
        "report_agent_days",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in AGENT_DAY_SUMS),
        sa.Column("first_sign_in_at", sa.Float(), nullable=True),
        sa.Column("last_sign_out_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "agent_id", "day", name=op.f("pk_report_agent_days")),
    )
    op.create_table(
        "report_queue_slots",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in QUEUE_SLOT_SUMS),
        sa.Column("max_wait_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "queue_id", "slot", name=op.f("pk_report_queue_slots")),
    )
    op.create_table(
        "report_agent_teams",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "agent_id", name=op.f("pk_report_agent_teams")),
    )
    op.create_index("ix_interaction_events_agent", "interaction_events", ["tenant_id", "agent_id", "at"])
    op.create_index("ix_interactions_agent", "interactions", ["tenant_id", "agent_id", "created_at"])
    op.create_index("ix_interactions_queue", "interactions", ["tenant_id", "queue_id", "created_at"])
    op.create_index("ix_interactions_from", "interactions", ["tenant_id", "from_address"])


def downgrade() -> None:
    op.drop_index("ix_interactions_from", "interactions")
    op.drop_index("ix_interactions_queue", "interactions")
    op.drop_index("ix_interactions_agent", "interactions")
    op.drop_index("ix_interaction_events_agent", "interaction_events")
    op.drop_table("report_agent_teams")
    op.drop_table("report_queue_slots")
    op.drop_table("report_agent_days")
