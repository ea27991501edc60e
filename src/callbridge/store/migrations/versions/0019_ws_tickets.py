"""ws_tickets: WebSocket tickets every node of a cluster can redeem (once)

Revision ID: 0019_ws_tickets
Revises: 0018_console_texts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_ws_tickets"
down_revision = "0018_console_texts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ws_tickets",
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_hash", name=op.f("pk_ws_tickets")),
    )


def downgrade() -> None:
    op.drop_table("ws_tickets")
