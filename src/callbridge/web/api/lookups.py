"""Turning the rules' refusals into answers that name the request's field.

The live state forgets an interaction once it has ended (its row stays in the
database), so "does not exist" from the rules may mean "has already ended":
that is a conflict (409), not an unknown id (404). An unknown queue named in a
body is an invalid field (422, `queue_id`), not a missing resource.
"""

from __future__ import annotations

import asyncio
from typing import Any

from callbridge.domain import commands as cmd
from callbridge.domain import events as ev
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.services.configuration import UnknownReference
from callbridge.store.live_state import stored_interaction_row
from callbridge.web.deps import Services


async def stored_interaction(svc: Services, tenant_id: str, interaction_id: str) -> Any:
    """The interaction's row in this tenant, or None (read in a worker thread: the event loop never waits on I/O)."""
    return await asyncio.to_thread(stored_interaction_row, svc.engine, tenant_id, interaction_id)


async def explain(svc: Services, tenant_id: str, error: NotFound, *, queue_field: str | None = None) -> Exception:
    """The error to answer with instead of `error`."""
    if error.kind == "queue" and queue_field is not None:
        return UnknownReference(f"queue {error.identifier!r} does not exist: create it first", queue_field)
    if error.kind == "interaction":
        row = await stored_interaction(svc, tenant_id, error.identifier)
        if row is not None:
            return InvalidTransition(f"interaction {error.identifier!r} has already ended ({row.state})")
    return error


async def execute(
    svc: Services, tenant_id: str, command: cmd.Command, *, queue_field: str | None = None
) -> list[ev.Event]:
    try:
        return await svc.node.execute(tenant_id, command)
    except NotFound as error:
        raise await explain(svc, tenant_id, error, queue_field=queue_field) from None
