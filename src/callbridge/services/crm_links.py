"""The CRM record an interaction belongs to: popped (exactly one match), chosen by the agent, or the
record a click to dial started from. Auto log links the activity to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from callbridge.connectors.base import CrmRecord
from callbridge.store.crm_links import link_of, read_link, save_link, write_link

# Interaction data keys a click to dial carries (POST /api/v1/me/calls with `record`).
CLICKED_OBJECT_TYPE = "crm.object_type"
CLICKED_RECORD_ID = "crm.record_id"
CLICKED_RECORD_NAME = "crm.record_name"

# Reading and writing the links is the store's; named here too, where the services look for them.
__all__ = [
    "CLICKED_OBJECT_TYPE",
    "CLICKED_RECORD_ID",
    "CLICKED_RECORD_NAME",
    "PendingLinks",
    "clicked_record",
    "link_of",
    "read_link",
    "save_link",
    "write_link",
]


def clicked_record(data: Mapping[str, str]) -> CrmRecord | None:
    record_id = data.get(CLICKED_RECORD_ID, "")
    object_type = data.get(CLICKED_OBJECT_TYPE, "")
    if not record_id or not object_type:
        return None
    return CrmRecord(object_type=object_type, record_id=record_id, name=data.get(CLICKED_RECORD_NAME, ""))


class PendingLinks:
    """Screen-pop searches still running, per interaction: what one finds becomes the interaction's link.

    An agent may complete a call while the pop's CRM search is still out (a slow CRM); the auto log waits
    for those searches (each is time-boxed) so that the activity is linked to the record they find. The searches
    run on the node that holds the tenant, but any node's relay may deliver the log: such a log is put in the
    outbox due only when the search could have ended, and made due as soon as it does (`AutoLogService`)."""

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

    def running(self, tenant_id: str, interaction_id: str) -> bool:
        """Whether a search for the interaction's record is still out on this node."""
        return (tenant_id, interaction_id) in self._searches

    async def settled(self, tenant_id: str, interaction_id: str, timeout_seconds: float) -> None:
        """Returns once no search is running for the interaction, or after `timeout_seconds`."""
        found = self._searches.get((tenant_id, interaction_id))
        if found is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(found[1].wait(), timeout_seconds)
