"""Tables of the CRM integration: screen-pop and auto-log settings, CRM connections, the auto-log outbox.

`crm_outbox` is written in the same transaction as the interaction's completion (one row per
interaction: the interaction id is the idempotency key), so a log can be neither lost nor
written twice by Callbridge; it also keeps the full log for good, whatever the CRM accepted.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKeyConstraint, Index, Integer, String, Table, Text
from sqlalchemy.types import JSON

from callbridge.store.tables import metadata

crm_settings = Table(
    "crm_settings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("screen_pop", JSON, nullable=False),
    Column("auto_log", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

crm_connections = Table(
    "crm_connections",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("crm", String(64), primary_key=True),  # the connector's entry-point name
    Column("config", JSON, nullable=False),  # the connector's settings, nothing secret
    Column("secrets", Text, nullable=False, default=""),  # encrypted (Fernet) JSON
    Column("updated_at", Float, nullable=False),
    # who the integration user is, as the CRM said when an admin pressed Connect, and since when
    Column("connected_as", String(300), nullable=False, default="", server_default=""),
    Column("connected_at", Float, nullable=True),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

crm_links = Table(
    "crm_links",
    metadata,
    # the CRM record an interaction belongs to: popped (one match), chosen by the agent, or clicked to dial
    Column("tenant_id", String(64), primary_key=True),
    Column("interaction_id", String(64), primary_key=True),
    Column("object_type", String(64), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("name", String(300), nullable=False, default=""),
    Column("source", String(16), nullable=False),  # pop, chosen, click_to_dial
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

crm_outbox = Table(
    "crm_outbox",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("interaction_id", String(64), primary_key=True),  # the idempotency key, also the CRM's external id
    Column("crm", String(64), nullable=False),
    Column("payload", JSON, nullable=False),  # the ActivityLog fields and the full log
    Column("status", String(16), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text, nullable=False, default=""),
    Column("error_code", String(64), nullable=False, default=""),
    Column("activity_id", String(64), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_crm_outbox_due", "status", "next_attempt_at"),
)

# An admin's CRM Connect between the press of the button and the CRM's callback, which may reach another node:
# the row is found by a hash of the OAuth `state` (the state itself is never stored) and deleted when taken.
crm_connects_pending = Table(
    "crm_connects_pending",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("crm", String(64), nullable=False),
    Column("subject_id", String(200), nullable=False),  # the admin who pressed Connect
    Column("code_verifier", Text, nullable=False),  # PKCE, encrypted (TokenCipher)
    Column("redirect_uri", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_crm_connects_pending_expires_at", "expires_at"),
)
