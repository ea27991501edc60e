"""Each tenant's screen-pop and auto-log settings (`crm_settings`), as the JSON the services validate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.domain.audit import Actor
from callbridge.store.audit import record
from callbridge.store.crm_tables import crm_settings


@dataclass(frozen=True, slots=True)
class StoredCrmSettings:
    tenant_id: str
    screen_pop: dict[str, Any]
    auto_log: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """One audited change of a save: `screen_pop.updated` or `auto_log_settings.updated`, before and after."""

    action: str
    before: dict[str, Any]
    after: dict[str, Any]


def every_tenant(engine: Engine) -> list[StoredCrmSettings]:
    with engine.connect() as connection:
        rows = connection.execute(select(crm_settings)).all()
    return [StoredCrmSettings(r.tenant_id, r.screen_pop, r.auto_log) for r in rows]


def of_tenant(engine: Engine, tenant_id: str) -> StoredCrmSettings | None:
    with engine.connect() as connection:
        row = connection.execute(select(crm_settings).where(crm_settings.c.tenant_id == tenant_id)).first()
    return None if row is None else StoredCrmSettings(row.tenant_id, row.screen_pop, row.auto_log)


def save(
    engine: Engine, settings: StoredCrmSettings, now: float, *, actor: Actor | None, changes: Sequence[Change]
) -> None:
    """Stores the tenant's settings; with an `actor`, each change is audited in the same transaction."""
    values = {
        "tenant_id": settings.tenant_id,
        "screen_pop": settings.screen_pop,
        "auto_log": settings.auto_log,
        "updated_at": now,
    }
    with engine.begin() as connection:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = insert(crm_settings).values(**values)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id"],
                set_={k: statement.excluded[k] for k in ("screen_pop", "auto_log", "updated_at")},
            )
        )
        if actor is None:
            return
        for change in changes:
            record(
                connection,
                tenant_id=settings.tenant_id,
                actor=actor,
                action=change.action,
                target_type=change.action.split(".")[0],
                target_id=settings.tenant_id,
                before=change.before,
                after=change.after,
                at=now,
            )
