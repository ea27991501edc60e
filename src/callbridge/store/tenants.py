"""A tenant's own row: created and changed by an admin (audited in the same transaction); read for the console
page, the WebSocket's origin check, the phone region."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy import update as update_

from callbridge.domain.audit import Actor
from callbridge.store.audit import record
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


def create(engine: Engine, values: dict[str, Any], *, actor: Actor, audited: dict[str, Any]) -> bool:
    """Inserts the tenant's row and its audit entry (`audited` as its "after") in one transaction; False (nothing
    written) if the id is taken."""
    with engine.begin() as connection:
        if connection.execute(select(tenants.c.id).where(tenants.c.id == values["id"])).first() is not None:
            return False
        connection.execute(insert(tenants).values(**values))
        record(
            connection,
            tenant_id=values["id"],
            actor=actor,
            action="tenant.created",
            target_type="tenant",
            target_id=values["id"],
            after=audited,
        )
    return True


def update(engine: Engine, tenant_id: str, values: dict[str, Any], *, actor: Actor) -> bool:
    """Changes the tenant's row and audits the change (of the fields in `values`) in the same transaction; False
    if there is no such tenant."""
    with engine.begin() as connection:
        old = connection.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
        result = connection.execute(update_(tenants).where(tenants.c.id == tenant_id).values(**values))
        if old is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="tenant.updated",
                target_type="tenant",
                target_id=tenant_id,
                before={k: list(old.allowed_origins) if k == "allowed_origins" else getattr(old, k) for k in values},
                after=values,
            )
    return bool(result.rowcount)


def find(engine: Engine, tenant_id: str) -> Any:
    """The tenant's row, or None."""
    with engine.connect() as connection:
        return connection.execute(select(tenants).where(tenants.c.id == tenant_id)).first()


def every(engine: Engine, only: str | None = None) -> list[Any]:
    """Every tenant's row (or only `only`'s), by id."""
    query = select(tenants).order_by(tenants.c.id)
    if only is not None:
        query = query.where(tenants.c.id == only)
    with engine.connect() as connection:
        return list(connection.execute(query).all())
