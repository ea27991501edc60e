"""voice_phones: which of an agent's phones rings on an offer (the browser softphone or the desk phone)

Revision ID: 0020_voice_phones
Revises: 0019_ws_tickets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_voice_phones"
down_revision = "0019_ws_tickets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_phones",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("rings", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents.tenant_id", "agents.id"],
            name=op.f("fk_voice_phones_tenant_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "agent_id", name=op.f("pk_voice_phones")),
    )


def downgrade() -> None:
    op.drop_table("voice_phones")
