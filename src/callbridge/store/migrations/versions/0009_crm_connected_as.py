"""crm_connections: who the integration user is after Connect, and since when

Revision ID: 0009_crm_connected_as
Revises: 0003_crm_integration
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_crm_connected_as"
down_revision = "0003_crm_integration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crm_connections") as batch:
        batch.add_column(sa.Column("connected_as", sa.String(length=300), nullable=False, server_default=""))
        batch.add_column(sa.Column("connected_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crm_connections") as batch:
        batch.drop_column("connected_at")
        batch.drop_column("connected_as")
