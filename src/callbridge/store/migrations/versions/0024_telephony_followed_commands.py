"""telephony: which commands the tenant's PBX follows (hold and resume, as before, unless the admin adds more)

Revision ID: 0024_telephony_followed_commands
Revises: 0023_rate_limit_counters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_telephony_followed_commands"
down_revision = "0023_rate_limit_counters"
branch_labels = None
depends_on = ("0008_telephony_commands",)  # the table it changes comes from that branch


def upgrade() -> None:
    with op.batch_alter_table("telephony_command_settings") as batch:
        batch.add_column(sa.Column("commands", sa.String(length=200), nullable=False, server_default="hold,resume"))


def downgrade() -> None:
    with op.batch_alter_table("telephony_command_settings") as batch:
        batch.drop_column("commands")
