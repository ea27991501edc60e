"""The CRM record an interaction belongs to: popped (exactly one match), chosen by the agent, or the
record a click to dial started from. Auto log links the activity to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.connectors.base import CrmRecord
from callbridge.store.crm_tables import crm_links

# Interaction data keys a click to dial carries (POST /api/v1/me/calls with `record`).
CLICKED_OBJECT_TYPE = "crm.object_type"
CLICKED_RECORD_ID = "crm.record_id"
CLICKED_RECORD_NAME = "crm.record_name"

# Which links win: an agent's choice over a click over a pop.
_RANK = {"pop": 0, "click_to_dial": 1, "chosen": 2}


def clicked_record(data: Mapping[str, str]) -> CrmRecord | None:
    record_id = data.get(CLICKED_RECORD_ID, "")
    object_type = data.get(CLICKED_OBJECT_TYPE, "")
    if not record_id or not object_type:
        return None
    return CrmRecord(object_type=object_type, record_id=record_id, name=data.get(CLICKED_RECORD_NAME, ""))


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


class PendingLinks:
    """Screen-pop searches still running, per interaction: what one finds becomes the interaction's link.

    An agent may complete a call while the pop's CRM search is still out (a slow CRM); the auto log waits
    for those searches (each is time-boxed) so that the activity is linked to the record they find."""

    def __init__(self) -> None:
        self._searches: dict[tuple[str, str], tuple[int, asyncio.Event]] = {}

    def begin(self, tenant_id: str, interaction_id: str) -> None:
        key = (tenant_id, interaction_id)
        count, done = self._searches.get(key, (0, asyncio.Event()))
        self._searches[key] = (count + 1, done)

    def end(self, tenant_id: str, interaction_id: str) -> None:
        key = (tenant_id, interaction_id)
        found = self._searches.get(key)
        if found is None:
            return
        count, done = found
        if count > 1:
            self._searches[key] = (count - 1, done)
            return
        del self._searches[key]
        done.set()

    async def settled(self, tenant_id: str, interaction_id: str, timeout_seconds: float) -> None:
        """Returns once no search is running for the interaction, or after `timeout_seconds`."""
        found = self._searches.get((tenant_id, interaction_id))
        if found is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(found[1].wait(), timeout_seconds)
