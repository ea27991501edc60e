"""Transferring a conversation in progress: to a queue, to a colleague, or (a call Callbridge carries) out.

`target` is resolved on the node that holds the tenant: an E.164 number is an outside number, then a queue
id, then an agent id. The contact center decides queue and agent transfers (the same interaction waits
again, logged as `transferred`); the voice controller follows with the media. A transfer to an outside number
and a consult are done by the controller carrying the call: this node's, or another node's (the interaction's
`voice_node`), asked over the bus (`voice_nodes.CarrierCommands`, ADR 0014).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from callbridge.channels.base import CommandFailed
from callbridge.channels.voice_nodes import CarrierOperation, EndConsult, StartConsult, TransferOutside
from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.services.operations import ReadInteraction, ResolveTransferTarget
from callbridge.web.api.lookups import execute, stored_interaction
from callbridge.web.api.schemas import Identifier, Input, TransferIn
from callbridge.web.deps import AgentDep, ServicesDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField, error_response

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

OUTSIDE_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}$")


@router.post("/me/interactions/{interaction_id}/transfer", status_code=204, tags=["agent"], responses={503: {}})
async def transfer_interaction(
    interaction_id: str, body: TransferIn, request: Request, svc: ServicesDep, who: AgentDep
) -> Response:
    """A blind transfer. To a queue: the caller waits again (hold music) and the queue's next agent gets it.
    To an agent: it is offered to them at once (409 when they cannot take it now); if they miss the offer it
    waits in its queue. To an outside number: dialled through the trunk with the tenant's caller id, and your
    part of the call ends (done by the voice server carrying the call, on whichever node it runs). 409 when the
    interaction is not connected to you; 422 naming `target` when it names nothing; 503 when the call cannot be
    carried out, or the voice server carrying it has stopped."""
    tenant_id = who.tenant_id or ""
    if (body.target is None) == (body.queue_id is None):
        raise InvalidField("give the transfer's target (a queue id, an agent id or an E.164 number)", "target")
    field = "target" if body.target is not None else "queue_id"
    target = body.target or body.queue_id or ""
    if OUTSIDE_NUMBER.match(target):
        carried = await _carrier(request, svc, tenant_id, interaction_id)
        if carried is None:
            await _known(svc, tenant_id, interaction_id)
            return await _transfer_through_the_pbx(request, svc, tenant_id, interaction_id, who.subject_id, target)
        operation = TransferOutside(
            tenant_id=tenant_id, interaction_id=interaction_id, agent_id=who.subject_id, number=target
        )
        return await _on_carrier(carried, operation)
    kind = await svc.node.perform(tenant_id, ResolveTransferTarget(target=target, field=field))
    command: cmd.Command = (
        cmd.TransferToQueue(who.subject_id, interaction_id, target)
        if kind == "queue"
        else cmd.TransferToAgent(who.subject_id, interaction_id, target)
    )
    await execute(svc, tenant_id, command, queue_field=field)
    return Response(status_code=204)


async def _transfer_through_the_pbx(
    request: Request, svc: Any, tenant_id: str, interaction_id: str, agent_id: str, to_address: str
) -> Response:
    """An outside PBX's call goes to an outside number when that PBX follows `transfer`: it is asked first (a
    refusal changes nothing), then your part of the call ends."""
    carriers = request.app.state.channels.router
    if not await carriers.pbx_follows(tenant_id, interaction_id, "transfer"):
        raise InvalidTransition(
            "this call cannot be transferred to an outside number: its PBX does not take the transfer command "
            "(an admin turns it on in the telephony settings)"
        )
    view = await svc.node.perform(tenant_id, ReadInteraction(interaction_id=interaction_id))
    if view.agent_id != agent_id or view.state != "connected":
        raise InvalidTransition(f"interaction {interaction_id!r} is not a call connected to you")
    try:
        await carriers.transfer(tenant_id, interaction_id, agent_id, to_address)
    except CommandFailed as error:
        return error_response(503, "telephony_unavailable", str(error))
    await execute(svc, tenant_id, cmd.TransferOut(agent_id, interaction_id, to_address))
    return Response(status_code=204)


class ConsultIn(Input):
    target: Identifier = Field(
        description="The colleague (agent id) to consult; their phone rings (their console's browser softphone or "
        "their desk phone, as their phone choice says)"
    )


async def _known(svc: Any, tenant_id: str, interaction_id: str) -> None:
    """An id that names no interaction of the agent's tenant is 404, whatever else is wrong with the request."""
    if await stored_interaction(svc, tenant_id, interaction_id) is None:
        raise NotFound("interaction", interaction_id)


async def _carrier(request: Request, svc: Any, tenant_id: str, interaction_id: str) -> tuple[Any, str] | None:
    """(the voice channel's carrier commands, the node carrying the call) for a call a voice controller of
    ours carries, on this node or another one; None for any other interaction."""
    voice = request.app.state.channels.voice
    if voice is None:
        return None
    carrier = await voice.carriers.carrier(svc.node, tenant_id, interaction_id)
    return None if carrier is None else (voice.carriers, carrier)


async def _on_carrier(carried: tuple[Any, str], operation: CarrierOperation) -> Response:
    commands, carrier = carried
    try:
        await commands.send(carrier, operation)
    except CommandFailed as error:
        return error_response(503, "telephony_unavailable", str(error))
    return Response(status_code=204)


async def _voice_call(request: Request, svc: Any, tenant_id: str, interaction_id: str) -> tuple[Any, str]:
    carried = await _carrier(request, svc, tenant_id, interaction_id)
    if carried is None:
        await _known(svc, tenant_id, interaction_id)
        raise InvalidTransition("only calls carried by Callbridge's own voice channel can be transferred warm")
    return carried


@router.post("/me/interactions/{interaction_id}/consult", status_code=204, tags=["agent"], responses={503: {}})
async def start_consult(
    interaction_id: str, body: ConsultIn, request: Request, svc: ServicesDep, who: AgentDep
) -> Response:
    """Warm transfer, first step: the caller hears the hold music while the colleague's phone rings (their
    browser softphone, where their console shows who consults them with Answer and Decline, or their desk phone);
    once they answer you hear each other. Either of you may be on a browser softphone. Then `consult/complete` or
    `consult/cancel`. A colleague who does not answer within 30 s, or declines, ends the consult (the caller is
    back with you). The colleague is busy during the consult: they are offered no call until it ends. 409 when the
    call is not connected to your phone, a consult is already on, or the colleague is signed out, on another call
    or rung for one; 422 naming `target` when it is not an agent; 503 when the colleague's phone is a desk phone
    that is not set up."""
    tenant_id = who.tenant_id or ""
    carried = await _voice_call(request, svc, tenant_id, interaction_id)
    kind = await svc.node.perform(tenant_id, ResolveTransferTarget(target=body.target))
    if kind != "agent":
        raise InvalidField(f"target {body.target!r} is a queue: only a colleague can be consulted", "target")
    operation = StartConsult(
        tenant_id=tenant_id, interaction_id=interaction_id, agent_id=who.subject_id, target=body.target
    )
    return await _on_carrier(carried, operation)


@router.post("/me/interactions/{interaction_id}/consult/complete", status_code=204, tags=["agent"], responses={503: {}})
async def complete_consult(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> Response:
    """Warm transfer, done: the caller and the colleague you consulted talk; the call is theirs (offered and
    accepted at once, logged as transferred) and your phone hangs up. 409 without an answered consult, or
    when the colleague cannot take the call now."""
    return await _end_consult(request, svc, who, interaction_id, complete=True)


@router.post("/me/interactions/{interaction_id}/consult/cancel", status_code=204, tags=["agent"], responses={503: {}})
async def cancel_consult(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> Response:
    """Warm transfer, called off: the colleague's phone is hung up and the caller is back with you."""
    return await _end_consult(request, svc, who, interaction_id, complete=False)


async def _end_consult(request: Request, svc: Any, who: Any, interaction_id: str, *, complete: bool) -> Response:
    tenant_id = who.tenant_id or ""
    carried = await _voice_call(request, svc, tenant_id, interaction_id)
    operation = EndConsult(
        tenant_id=tenant_id, interaction_id=interaction_id, agent_id=who.subject_id, complete=complete
    )
    return await _on_carrier(carried, operation)
