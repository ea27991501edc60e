"""A tenant's skills: created and deleted by an admin, each change audited in its own transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, delete, insert, select

from callbridge.domain.audit import Actor
from callbridge.store.audit import record
from callbridge.store.tables import skills


def of_tenant(engine: Engine, tenant_id: str) -> list[dict[str, str]]:
    """name and description of each skill, by name."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(skills.c.name, skills.c.description).where(skills.c.tenant_id == tenant_id).order_by(skills.c.name)
        ).all()
    return [{"name": r.name, "description": r.description} for r in rows]


def known(engine: Engine, tenant_id: str, names: Iterable[str]) -> set[str]:
    """Those of `names` that are skills of the tenant."""
    with engine.connect() as connection:
        return {
            r.name
            for r in connection.execute(
                select(skills.c.name).where(skills.c.tenant_id == tenant_id, skills.c.name.in_(list(names)))
            )
        }


def create(engine: Engine, tenant_id: str, name: str, description: str, *, actor: Actor) -> bool:
    """Adds the skill and audits it; False (nothing written) if the tenant has a skill of that name."""
    with engine.begin() as connection:
        exists = connection.execute(
            select(skills.c.name).where(skills.c.tenant_id == tenant_id, skills.c.name == name)
        ).first()
        if exists is not None:
            return False
        connection.execute(insert(skills).values(tenant_id=tenant_id, name=name, description=description))
        record(
            connection,
            tenant_id=tenant_id,
            actor=actor,
            action="skill.created",
            target_type="skill",
            target_id=name,
            after={"name": name, "description": description},
        )
    return True


def remove(engine: Engine, tenant_id: str, name: str, *, actor: Actor) -> bool:
    """Deletes the skill and audits it; False if there was none."""
    with engine.begin() as connection:
        old = connection.execute(
            select(skills.c.name, skills.c.description).where(skills.c.tenant_id == tenant_id, skills.c.name == name)
        ).first()
        result = connection.execute(delete(skills).where(skills.c.tenant_id == tenant_id, skills.c.name == name))
        if old is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="skill.deleted",
                target_type="skill",
                target_id=name,
                before={"name": old.name, "description": old.description},
            )
    return bool(result.rowcount)
