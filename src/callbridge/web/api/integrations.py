"""Integrations' API (telephony, chat, voicemail systems), authorised by a tenant API key."""

from __future__ import annotations

import uuid

import structlog
from fastapi import APIRouter

from callbridge.domain import commands as cmd
from callbridge.domain.errors import NotFound
from callbridge.logging import bind_interaction
from callbridge.realtime.views import interaction_view
from callbridge.realtime.wire import InteractionView
from callbridge.services.configuration import Conflict
from callbridge.services.node import InteractionIdTaken
from callbridge.services.operations import ReadInteraction, SubmitInteraction
from callbridge.store.live_state import interaction_from_row
from callbridge.web.api.lookups import execute, stored_interaction
from callbridge.web.api.schemas import EndIn, InteractionIn
from callbridge.web.deps import IntegrationDep, Services, ServicesDep
from callbridge.web.errors import ERROR_RESPONSES

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["integrations"])


def _tenant(who: IntegrationDep) -> str:
    assert who.tenant_id is not None
    return who.tenant_id


@router.post("/interactions", status_code=201)
async def create_interaction(body: InteractionIn, svc: ServicesDep, who: IntegrationDep) -> InteractionView:
    """An inbound interaction arrives: it is queued and offered to the best available agent."""
    return await submit_interaction(svc, _tenant(who), body)


async def submit_interaction(svc: Services, tenant_id: str, body: InteractionIn) -> InteractionView:
    """What `POST /api/v1/interactions` does (also served by callbridge.web.api.busiest)."""
    interaction_id = body.id or str(uuid.uuid4())
    submit = SubmitInteraction(
        interaction_id=interaction_id,
        queue_id=body.queue_id,
        channel=body.channel,
        from_address=body.from_address,
        to_address=body.to_address,
        case_number=body.case_number,
        data=dict(body.data),
        priority=body.priority,
        id_chosen=body.id is not None,
    )
    bind_interaction(interaction_id)
    # one turn of the holder's loop: check, route, and read what the caller gets back
    try:
        view: InteractionView = await svc.node.perform(tenant_id, submit)
    except InteractionIdTaken as taken:
        raise Conflict(str(taken), "id") from None
    log.info("interaction created", channel=view.channel, queue_id=view.queue_id, state=view.state)
    return view


@router.post("/interactions/{interaction_id}/end")
async def end_interaction(interaction_id: str, body: EndIn, svc: ServicesDep, who: IntegrationDep) -> InteractionView:
    """The customer hung up or left: abandoned if still waiting or ringing, else wrap-up starts."""
    await execute(svc, _tenant(who), cmd.EndInteraction(interaction_id, body.reason))
    return await get_interaction(interaction_id, svc, who)


@router.get("/interactions/{interaction_id}")
async def get_interaction(interaction_id: str, svc: ServicesDep, who: IntegrationDep) -> InteractionView:
    tenant_id = _tenant(who)

    view: InteractionView | None = await svc.node.perform(
        tenant_id, ReadInteraction(interaction_id=interaction_id, missing_ok=True)
    )
    if view is not None:
        return view
    row = await stored_interaction(svc, tenant_id, interaction_id)
    if row is None:
        raise NotFound("interaction", interaction_id)
    return interaction_view(interaction_from_row(row))
