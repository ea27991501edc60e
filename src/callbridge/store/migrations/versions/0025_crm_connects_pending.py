"""crm_connects_pending: an admin's CRM Connect waits for the CRM's callback in the database, so the callback
may reach any node

Revision ID: 0025_crm_connects_pending
Revises: 0024_telephony_followed_commands
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_crm_connects_pending"
down_revision = "0024_telephony_followed_commands"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_connects_pending",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("crm", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_connects_pending_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_crm_connects_pending")),
    )
    op.create_index("ix_crm_connects_pending_expires_at", "crm_connects_pending", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_crm_connects_pending_expires_at", table_name="crm_connects_pending")
    op.drop_table("crm_connects_pending")
