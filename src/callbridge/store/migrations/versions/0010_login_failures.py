"""login_failures: failed password sign-ins per account and per address (brute-force protection)

Revision ID: 0010_login_failures
Revises: 0009_crm_connected_as
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_login_failures"
down_revision = "0009_crm_connected_as"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.Float(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
