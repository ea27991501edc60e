"""interaction_consults: a warm transfer's consult is saved with its call (interactions.consult_agent_id), so the
node that takes a tenant over keeps the consulted colleague busy

Revision ID: 0026_interaction_consults
Revises: 0025_crm_connects_pending
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_interaction_consults"
down_revision = "0025_crm_connects_pending"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("consult_agent_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("consult_agent_id")
