"""tenant_console_texts: wrap-up notes templates and chat quick replies per tenant

Revision ID: 0018_console_texts
Revises: 0017_greeting_duration
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_console_texts"
down_revision = "0017_greeting_duration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_console_texts",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("notes_templates", sa.JSON(), nullable=False),
        sa.Column("quick_replies", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_console_texts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_console_texts")),
    )


def downgrade() -> None:
    op.drop_table("tenant_console_texts")
