"""agent_greetings.duration_seconds: how long a recorded message plays

Revision ID: 0017_greeting_duration
Revises: 0016_queue_dispositions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_greeting_duration"
down_revision = "0016_queue_dispositions"
branch_labels = None
depends_on = "0007_greetings"  # the table it changes (another branch of the history)


def upgrade() -> None:
    with op.batch_alter_table("agent_greetings") as batch:
        batch.add_column(sa.Column("duration_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_greetings") as batch:
        batch.drop_column("duration_seconds")
