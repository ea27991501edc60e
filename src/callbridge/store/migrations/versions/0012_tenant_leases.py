"""tenant_leases and cluster_nodes: a lease per tenant with an epoch (fencing token), and node heartbeats

Revision ID: 0012_tenant_leases
Revises: 0011_voice
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_tenant_leases"
down_revision = "0011_voice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_leases",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_leases")),
    )
    op.create_table(
        "cluster_nodes",
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_cluster_nodes")),
    )


def downgrade() -> None:
    op.drop_table("cluster_nodes")
    op.drop_table("tenant_leases")
