"""The CRM record each interaction is linked to (`crm_links`): written by the screen pop, a click to dial or the
agent's choice (an agent's choice wins over a click, a click over a pop), read by the console and the auto log."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.connectors.base import CrmRecord
from callbridge.store.crm_tables import crm_links

# Which links win: an agent's choice over a click over a pop.
_RANK = {"pop": 0, "click_to_dial": 1, "chosen": 2}


def write_link(
    connection: Connection, tenant_id: str, interaction_id: str, record: CrmRecord, source: str, now: float
) -> None:
    existing = connection.execute(
        select(crm_links.c.source).where(
            crm_links.c.tenant_id == tenant_id, crm_links.c.interaction_id == interaction_id
        )
    ).scalar()
    if existing is not None and _RANK.get(existing, 0) > _RANK.get(source, 0):
        return
    values = {
        "tenant_id": tenant_id,
        "interaction_id": interaction_id,
        "object_type": record.object_type,
        "record_id": record.record_id,
        "name": record.name[:300],
        "source": source,
        "updated_at": now,
    }
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(crm_links).values(**values)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "interaction_id"],
            set_={k: statement.excluded[k] for k in ("object_type", "record_id", "name", "source", "updated_at")},
        )
    )


def save_link(engine: Engine, tenant_id: str, interaction_id: str, record: CrmRecord, source: str, now: float) -> None:
    with engine.begin() as connection:
        write_link(connection, tenant_id, interaction_id, record, source, now)


def read_link(connection: Connection, tenant_id: str, interaction_id: str) -> CrmRecord | None:
    row = connection.execute(
        select(crm_links).where(crm_links.c.tenant_id == tenant_id, crm_links.c.interaction_id == interaction_id)
    ).first()
    if row is None:
        return None
    return CrmRecord(object_type=row.object_type, record_id=row.record_id, name=row.name)


def link_of(engine: Engine, tenant_id: str, interaction_id: str) -> CrmRecord | None:
    with engine.connect() as connection:
        return read_link(connection, tenant_id, interaction_id)
