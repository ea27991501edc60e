"""Single sign-on tables: identity providers per tenant, linked identities, provider tokens, warnings.

Secrets (client secrets, provider tokens) are stored encrypted (callbridge.auth.secrets); pending
logins and hand-off codes are looked up by the SHA-256 of their random value, never stored in clear.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKeyConstraint, Index, LargeBinary, String, Table, Text

from callbridge.store.tables import metadata

identity_providers = Table(
    "identity_providers",
    metadata,
    # one provider per tenant: agents sign in with the tenant's CRM
    Column("tenant_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # builtin_crm | salesforce | oidc
    Column("display_name", String(200), nullable=False),
    # builtin_crm / oidc: the issuer; discovery is <issuer>/.well-known/openid-configuration unless given
    Column("issuer", String(500), nullable=False, default=""),
    Column("discovery_url", String(500), nullable=False, default=""),
    # salesforce: login host for production and for sandboxes (My Domain hosts allowed)
    Column("login_host", String(255), nullable=False, default=""),
    Column("sandbox_login_host", String(255), nullable=False, default=""),
    Column("client_id", String(255), nullable=False),
    Column("client_secret_encrypted", LargeBinary, nullable=True),
    Column("scope", String(500), nullable=False),
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

linked_identities = Table(
    "linked_identities",
    metadata,
    # (tenant, issuer, subject) is who the agent is; the e-mail is only used once, to link
    Column("tenant_id", String(64), primary_key=True),
    Column("issuer", String(500), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("email_at_link", String(320), nullable=False),
    Column("linked_at", Float, nullable=False),
    Column("last_sign_in_at", Float, nullable=True),
    ForeignKeyConstraint(["tenant_id", "agent_id"], ["agents.tenant_id", "agents.id"], ondelete="CASCADE"),
    Index("ix_linked_identities_agent", "tenant_id", "agent_id"),
)

provider_tokens = Table(
    "provider_tokens",
    metadata,
    # the provider's tokens of a signed-in agent, for the CRM connector; encrypted at rest
    Column("tenant_id", String(64), primary_key=True),
    Column("agent_id", String(64), primary_key=True),
    Column("issuer", String(500), nullable=False),
    Column("sandbox", Boolean, nullable=False, default=False),
    Column("access_token_encrypted", LargeBinary, nullable=False),
    Column("refresh_token_encrypted", LargeBinary, nullable=True),
    Column("token_type", String(32), nullable=False, default="Bearer"),
    Column("scope", String(1000), nullable=False, default=""),
    Column("expires_at", Float, nullable=True),
    Column("instance_url", String(500), nullable=False, default=""),  # Salesforce: base of REST calls
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id", "agent_id"], ["agents.tenant_id", "agents.id"], ondelete="CASCADE"),
)

sso_warnings = Table(
    "sso_warnings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("kind", String(40), nullable=False),  # e.g. duplicate_email
    Column("message", Text, nullable=False),
    Column("agent_ids", String(1000), nullable=False, default=""),  # comma-separated, the linked one first
    Column("created_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_sso_warnings_created", "tenant_id", "created_at"),
)

sso_pending_logins = Table(
    "sso_pending_logins",
    metadata,
    # one row per authorization request, found by the hash of its `state`; single use, minutes long
    Column("state_hash", String(64), primary_key=True),
    Column("browser_hash", String(64), nullable=False),  # hash of the login cookie that binds it to the browser
    Column("tenant_id", String(64), nullable=False),
    Column("sandbox", Boolean, nullable=False, default=False),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("redirect_uri", String(500), nullable=False),
    Column("next_path", String(500), nullable=False, default=""),
    Column("popup", Boolean, nullable=False, default=False),
    Column("handoff_challenge", String(128), nullable=False, default=""),
    Column("silent", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

sso_handoffs = Table(
    "sso_handoffs",
    metadata,
    # a one-time code that moves a finished sign-in from the pop-up to the console frame
    Column("code_hash", String(64), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("agent_id", String(64), nullable=False),
    Column("challenge", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
)
