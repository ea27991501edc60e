"""Agent rows as an admin configures them. Saves and deletes run in the node's batch
(`ContactCenterNode.configure`), so the row, its audit entry and the routing state change in one transaction."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine, select

from callbridge.domain.audit import Actor
from callbridge.domain.model import AgentStatus
from callbridge.store.audit import remove_audited, save_audited
from callbridge.store.tables import agents

AUDITED_FIELDS = ("email", "display_name", "roles", "skills", "capacity", "queue_ids", "enabled", "auto_login")


def of_tenant(engine: Engine, tenant_id: str) -> list[Any]:
    """Every agent's row, oldest first."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(agents).where(agents.c.tenant_id == tenant_id).order_by(agents.c.created_at, agents.c.id)
            ).all()
        )


def find(engine: Engine, tenant_id: str, agent_id: str) -> Any:
    """The agent's row, or None."""
    with engine.connect() as connection:
        return connection.execute(
            select(agents).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
        ).first()


def save(
    connection: Connection, tenant_id: str, agent_id: str, row: dict[str, Any], *, create: bool, actor: Actor
) -> None:
    """Inserts (`create`: logged out, idle since now) or updates the agent's row, and audits the change, in the
    caller's transaction."""
    now = time.time()
    created = {
        "id": agent_id,
        "created_at": now,
        "presence": AgentStatus.LOGGED_OUT.value,
        "presence_reason": "",
        "status": AgentStatus.LOGGED_OUT.value,
        "status_reason": "",
        "status_since": now,
        "idle_since": now,
    }
    save_audited(connection, agents, "agent", tenant_id, agent_id, row, create=create, actor=actor, created=created)


def remove(connection: Connection, tenant_id: str, agent_id: str, *, actor: Actor) -> None:
    """Deletes the agent's row and audits it, in the caller's transaction."""
    remove_audited(connection, agents, "agent", tenant_id, agent_id, AUDITED_FIELDS, actor=actor)
