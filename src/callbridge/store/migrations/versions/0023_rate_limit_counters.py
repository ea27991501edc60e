"""rate_limit_counters: request rate limits every node counts alike (callbridge_ratelimit)

Revision ID: 0023_rate_limit_counters
Revises: 0022_voice_menus
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_rate_limit_counters"
down_revision = "0022_voice_menus"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counters")),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_counters")
