"""queues: whether an agent in wrap-up may be offered the queue's work (off by default)

Revision ID: 0014_queue_offer_during_wrap_up
Revises: 0013_interaction_dial_digits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_queue_offer_during_wrap_up"
down_revision = "0013_interaction_dial_digits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        batch.add_column(sa.Column("offer_during_wrap_up", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("offer_during_wrap_up")
