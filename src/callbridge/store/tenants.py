"""Reads of a tenant's own row: for the console page, the WebSocket's origin check, the phone region."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from callbridge.store.tables import agents, tenants


def allowed_origins(engine: Engine, tenant_id: str) -> list[str] | None:
    """The tenant's allowed CRM origins; None for a tenant that does not exist."""
    with engine.connect() as connection:
        row = connection.execute(select(tenants.c.allowed_origins).where(tenants.c.id == tenant_id)).first()
    return None if row is None else list(row.allowed_origins)


def console_tenant(engine: Engine, tenant_id: str) -> Any:
    """id, name and allowed_origins of a tenant, for the console page."""
    with engine.connect() as connection:
        return connection.execute(
            select(tenants.c.id, tenants.c.name, tenants.c.allowed_origins).where(tenants.c.id == tenant_id)
        ).first()


def console_agent(engine: Engine, tenant_id: str, agent_id: str) -> Any:
    """id, display_name, status and status_reason of an agent, for the console page."""
    with engine.connect() as connection:
        return connection.execute(
            select(agents.c.id, agents.c.display_name, agents.c.status, agents.c.status_reason).where(
                agents.c.tenant_id == tenant_id, agents.c.id == agent_id
            )
        ).first()


def phone_region(engine: Engine, tenant_id: str) -> str:
    """The region that numbers without a country code are read in (the tenant's `phone_region`; US if unset)."""
    with engine.connect() as connection:
        region = connection.execute(select(tenants.c.phone_region).where(tenants.c.id == tenant_id)).scalar()
    return str(region or "US")
