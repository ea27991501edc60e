"""report_queue_thresholds: the wallboard's amber and red thresholds per queue

Revision ID: 0015_wallboard_thresholds
Revises: 0014_queue_offer_during_wrap_up
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_wallboard_thresholds"
down_revision = "0014_queue_offer_during_wrap_up"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_queue_thresholds",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("waiting_amber", sa.Integer(), nullable=True),
        sa.Column("waiting_red", sa.Integer(), nullable=True),
        sa.Column("longest_wait_amber_seconds", sa.Integer(), nullable=True),
        sa.Column("longest_wait_red_seconds", sa.Integer(), nullable=True),
        sa.Column("service_level_amber_percent", sa.Integer(), nullable=True),
        sa.Column("service_level_red_percent", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "queue_id", name=op.f("pk_report_queue_thresholds")),
    )


def downgrade() -> None:
    op.drop_table("report_queue_thresholds")
