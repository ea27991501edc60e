"""single sign-on: identity providers, linked identities, provider tokens, warnings, pending logins

Revision ID: 0002_sso
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_sso"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_providers",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("discovery_url", sa.String(length=500), nullable=False),
        sa.Column("login_host", sa.String(length=255), nullable=False),
        sa.Column("sandbox_login_host", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_identity_providers_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_identity_providers")),
    )
    op.create_table(
        "linked_identities",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("email_at_link", sa.String(length=320), nullable=False),
        sa.Column("linked_at", sa.Float(), nullable=False),
        sa.Column("last_sign_in_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents.tenant_id", "agents.id"],
            name=op.f("fk_linked_identities_tenant_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "issuer", "subject", name=op.f("pk_linked_identities")),
    )
    op.create_index("ix_linked_identities_agent", "linked_identities", ["tenant_id", "agent_id"])
    op.create_table(
        "provider_tokens",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("access_token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("token_type", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("instance_url", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents.tenant_id", "agents.id"],
            name=op.f("fk_provider_tokens_tenant_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "agent_id", name=op.f("pk_provider_tokens")),
    )
    op.create_table(
        "sso_warnings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("agent_ids", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sso_warnings_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sso_warnings")),
    )
    op.create_index("ix_sso_warnings_created", "sso_warnings", ["tenant_id", "created_at"])
    op.create_table(
        "sso_pending_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("next_path", sa.String(length=500), nullable=False),
        sa.Column("popup", sa.Boolean(), nullable=False),
        sa.Column("handoff_challenge", sa.String(length=128), nullable=False),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_sso_pending_logins")),
    )
    op.create_table(
        "sso_handoffs",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("challenge", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_sso_handoffs")),
    )


def downgrade() -> None:
    op.drop_table("sso_handoffs")
    op.drop_table("sso_pending_logins")
    op.drop_index("ix_sso_warnings_created", table_name="sso_warnings")
    op.drop_table("sso_warnings")
    op.drop_table("provider_tokens")
    op.drop_index("ix_linked_identities_agent", table_name="linked_identities")
    op.drop_table("linked_identities")
    op.drop_table("identity_providers")
