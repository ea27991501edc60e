"""voice: per-queue recording and voicemail overflow settings, per-tenant recording retention, recordings

Revision ID: 0021_voice_recordings
Revises: 0020_voice_phones
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_voice_recordings"
down_revision = "0020_voice_phones"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_queue_settings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("recording", sa.String(length=8), nullable=False),
        sa.Column("announcement_greeting_id", sa.String(length=64), nullable=True),
        sa.Column("max_wait_seconds", sa.Integer(), nullable=True),
        sa.Column("voicemail_queue_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["queues.tenant_id", "queues.id"],
            name=op.f("fk_voice_queue_settings_tenant_id_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "queue_id", name=op.f("pk_voice_queue_settings")),
    )
    op.create_table(
        "voice_recording_retention",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_voice_recording_retention_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_voice_recording_retention")),
    )
    op.create_table(
        "voice_recordings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("interaction_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=100), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_voice_recordings_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "interaction_id", name=op.f("pk_voice_recordings")),
    )
    op.create_index("ix_voice_recordings_created", "voice_recordings", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_voice_recordings_created", table_name="voice_recordings")
    op.drop_table("voice_recordings")
    op.drop_table("voice_recording_retention")
    op.drop_table("voice_queue_settings")
