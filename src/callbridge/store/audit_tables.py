"""The audit log: who changed what in a tenant's configuration, and when.

One row per change, written in the same transaction as the change itself.
`changes` holds the before and after values of the fields that changed
(`{"field": {"before": …, "after": …}}`); secrets are never recorded, only
that they changed. Rows are appended and never updated or deleted.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, String, Table

from callbridge.store.tables import LogId, metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", LogId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("actor_kind", String(16), nullable=False),  # local_admin | agent | api_key | system
    Column("actor_id", String(64), nullable=False),
    Column("actor_name", String(320), nullable=False),  # e-mail of an admin or agent, name of an API key
    Column("action", String(64), nullable=False),  # e.g. agent.created, queue.updated, api_key.revoked
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(200), nullable=False),
    Column("changes", JSON, nullable=False),
    Index("ix_audit_log_at", "tenant_id", "at"),
    Index("ix_audit_log_target", "tenant_id", "target_type", "target_id"),
)
