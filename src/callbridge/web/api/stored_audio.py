"""Stored audio (voicemail, call recordings): who may hear it and how it is served.

Both kinds live under the data folder, are streamed with `Range` support (206) so the browser's player can
seek, and are private to the agent who handled the interaction and to the tenant's supervisors.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

from callbridge.domain.errors import NotFound
from callbridge.services.operations import ReadInteraction
from callbridge.web.api.lookups import stored_interaction
from callbridge.web.deps import Services


async def handling_agent(svc: Services, tenant_id: str, interaction_id: str) -> str | None:
    """The agent the interaction is offered to or held by (from the node holding the tenant), or, once it has
    ended, the agent its stored row names."""
    view = await svc.node.perform(tenant_id, ReadInteraction(interaction_id=interaction_id, missing_ok=True))
    agent_id: str | None = view.agent_id if view is not None else None
    if agent_id is None:
        row = await stored_interaction(svc, tenant_id, interaction_id)
        agent_id = row.agent_id if row is not None else None
    return agent_id


def audio_response(path: Path, content_type: str, what: str, interaction_id: str) -> FileResponse:
    """The file, answering `Range` requests; a row whose file is gone is a 404 naming `what`."""
    if not path.is_file():
        raise NotFound(what, interaction_id)
    return FileResponse(
        path,
        media_type=content_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
