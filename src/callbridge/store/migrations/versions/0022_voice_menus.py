"""voice: a dialled number may answer with a menu (a prompt, then a key chooses the queue)

Revision ID: 0022_voice_menus
Revises: 0021_voice_recordings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_voice_menus"
down_revision = "0021_voice_recordings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_menus",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("greeting_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["number"], ["voice_numbers.number"], name=op.f("fk_voice_menus_number_voice_numbers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_voice_menus")),
    )
    op.create_table(
        "voice_menu_options",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("digit", sa.String(length=1), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["number"],
            ["voice_menus.number"],
            name=op.f("fk_voice_menu_options_number_voice_menus"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["queues.tenant_id", "queues.id"],
            name=op.f("fk_voice_menu_options_tenant_id_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("number", "digit", name=op.f("pk_voice_menu_options")),
    )


def downgrade() -> None:
    op.drop_table("voice_menu_options")
    op.drop_table("voice_menus")
