"""voice: dialled numbers mapped to queues, agents' desk phones (digest HA1)

Revision ID: 0011_voice
Revises: 0010_login_failures
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_voice"
down_revision = "0010_login_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_numbers",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("greeting_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["queues.tenant_id", "queues.id"],
            name=op.f("fk_voice_numbers_tenant_id_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_voice_numbers")),
    )
    op.create_table(
        "voice_desk_phones",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ha1", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents.tenant_id", "agents.id"],
            name=op.f("fk_voice_desk_phones_tenant_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "agent_id", name=op.f("pk_voice_desk_phones")),
        sa.UniqueConstraint("username", name="uq_voice_desk_phones_username"),
    )


def downgrade() -> None:
    op.drop_table("voice_desk_phones")
    op.drop_table("voice_numbers")
