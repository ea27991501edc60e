"""Each tenant's CRM connections (`crm_connections`): the connector's settings, its credentials (encrypted
by the caller, stored as text) and who the integration user is after an admin's Connect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.store.crm_tables import crm_connections


def read(engine: Engine, tenant_id: str, crm: str) -> Row[Any] | None:
    with engine.connect() as connection:
        return connection.execute(
            select(crm_connections).where(crm_connections.c.tenant_id == tenant_id, crm_connections.c.crm == crm)
        ).first()


def save(
    engine: Engine,
    values: dict[str, Any],
    *,
    also: Callable[[Connection], None] | None = None,
) -> None:
    """Inserts or updates one connection (`values` has tenant_id, crm and the columns to set); `also` runs in
    the same transaction (the audit record)."""
    with engine.begin() as connection:
        if also is not None:
            also(connection)
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = insert(crm_connections).values(**{"secrets": "", **values})
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "crm"],
                set_={k: statement.excluded[k] for k in values if k not in ("tenant_id", "crm")},
            )
        )


def update_secrets(
    engine: Engine,
    tenant_id: str,
    crm: str,
    ciphertext: str,
    *,
    connected: tuple[str, float | None] | None = None,
    also: Callable[[Connection], None] | None = None,
) -> bool:
    """Replaces the stored credentials; with `connected`, also who the integration user is and since when
    (("", None) after a revoke). False when there is no such connection."""
    values: dict[str, Any] = {"secrets": ciphertext}
    if connected is not None:
        values["connected_as"], values["connected_at"] = connected
    with engine.begin() as connection:
        if also is not None:
            also(connection)
        result = connection.execute(
            update(crm_connections)
            .where(crm_connections.c.tenant_id == tenant_id, crm_connections.c.crm == crm)
            .values(**values)
        )
    return bool(result.rowcount)
