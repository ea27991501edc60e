"""queues: the wrap-up's dispositions (a list) and whether one is required

Revision ID: 0016_queue_dispositions
Revises: 0015_wallboard_thresholds
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_queue_dispositions"
down_revision = "0015_wallboard_thresholds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        batch.add_column(sa.Column("dispositions", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("disposition_required", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("disposition_required")
        batch.drop_column("dispositions")
