"""Who acted, in words: the name the audit log shows for an administrator, an agent or an API key."""

from __future__ import annotations

from sqlalchemy import Engine, select

from callbridge.store.tables import admin_users, agents, api_keys


def actor_name(engine: Engine, kind: str, tenant_id: str | None, subject_id: str) -> str | None:
    """The e-mail of a local admin (`local_admin`) or agent (`agent`), the name of an API key (anything else)."""
    with engine.connect() as connection:
        if kind == "local_admin":
            query = select(admin_users.c.email).where(admin_users.c.id == subject_id)
        elif kind == "agent":
            query = select(agents.c.email).where(agents.c.tenant_id == tenant_id, agents.c.id == subject_id)
        else:
            query = select(api_keys.c.name).where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == subject_id)
        name = connection.execute(query).scalar()
    return None if name is None else str(name)
