"""The signed-in agent's API: status, offers, interactions, click to dial, WebSocket tickets."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from callbridge.auth.principal import Principal
from callbridge.channels.base import CommandFailed, OutboundCall
from callbridge.channels.hold import HOLD_KEY, CallHoldService, HoldCall
from callbridge.channels.services import CarrierRouter
from callbridge.channels.sip.outside import DialRefused, voice_calls
from callbridge.channels.voice_nodes import VOICE_NODE
from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.domain.model import AgentStatus
from callbridge.realtime.wire import InteractionView, Snapshot
from callbridge.services.agent_sessions import sign_out_agent
from callbridge.services.crm_links import CLICKED_OBJECT_TYPE, CLICKED_RECORD_ID, CLICKED_RECORD_NAME
from callbridge.services.operations import CheckDisposition, ReadAgentStatus, ReadInteraction, ReadSnapshot, ReadWrapUp
from callbridge.store.interaction_history import recent_completed
from callbridge.web.api.lookups import execute, explain
from callbridge.web.api.schemas import CallIn, CompleteIn, EndIn, StatusIn, TicketOut
from callbridge.web.cookies import delete_cookie
from callbridge.web.deps import SESSION_COOKIE, AgentDep, PrincipalDep, Services, ServicesDep, bearer
from callbridge.web.errors import ERROR_RESPONSES, InvalidField, error_response

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


def _tenant(who: Principal) -> str:
    assert who.tenant_id is not None
    return who.tenant_id


async def _interaction(svc: ServicesDep, tenant_id: str, interaction_id: str) -> InteractionView:
    view: InteractionView = await svc.node.perform(tenant_id, ReadInteraction(interaction_id=interaction_id))
    return view


@router.get("/me", tags=["agent"])
async def my_state(svc: ServicesDep, who: AgentDep) -> Snapshot:
    """Everything the console shows: my status and interactions, my queues, colleagues' presence."""
    found: Snapshot = await svc.node.perform(_tenant(who), ReadSnapshot(agent_id=who.subject_id))
    return found


@router.put("/me/status", tags=["agent"])
async def set_status(body: StatusIn, svc: ServicesDep, who: AgentDep) -> dict[str, Any]:
    tenant_id = _tenant(who)
    await svc.node.execute(tenant_id, cmd.SetPresence(who.subject_id, AgentStatus(body.status), body.reason))
    status: dict[str, Any] = await svc.node.perform(tenant_id, ReadAgentStatus(agent_id=who.subject_id))
    return status


def carriers(request: Request) -> CarrierRouter:
    """Where commands for a call go: the voice controller for its own calls, the tenant's PBX for the others."""
    found: CarrierRouter = request.app.state.channels.router
    return found


@router.post("/me/offers/{interaction_id}/accept", tags=["agent"], response_model=InteractionView, responses={503: {}})
async def accept_offer(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> Any:
    """Take the offered interaction. A call of an outside PBX that follows `connect` is bridged to you by it
    first; if the PBX refuses or does not answer, nothing changes: the call is still offered to you, to accept
    again or reject (503 saying so)."""
    return await accept(request, svc, who, interaction_id)


async def accept(request: Request, svc: Services, who: Principal, interaction_id: str) -> InteractionView | Response:
    """What `POST /api/v1/me/offers/{interaction_id}/accept` does (also served by callbridge.web.api.busiest)."""
    tenant_id = _tenant(who)
    router_ = carriers(request)
    if await router_.pbx_follows(tenant_id, interaction_id, "connect"):  # from memory: most tenants have no PBX
        offered = await _interaction(svc, tenant_id, interaction_id)
        # only the agent the call rings may have the PBX bridge it (to them)
        if offered.channel == "phone" and offered.state == "offered" and offered.agent_id == who.subject_id:
            try:
                await router_.connect(tenant_id, interaction_id, who.subject_id)
            except CommandFailed as error:  # the caller keeps their place: nothing was accepted
                return error_response(
                    503, "telephony_unavailable", f"{error}; the call still rings for you: accept again or reject it"
                )
    await execute(svc, tenant_id, cmd.AcceptOffer(who.subject_id, interaction_id))
    return await _interaction(svc, tenant_id, interaction_id)


@router.post("/me/offers/{interaction_id}/reject", status_code=204, tags=["agent"])
async def reject_offer(interaction_id: str, svc: ServicesDep, who: AgentDep) -> Response:
    """The interaction goes back to its place in the queue, and you go on break (missed offer)."""
    await execute(svc, _tenant(who), cmd.RejectOffer(who.subject_id, interaction_id))
    return Response(status_code=204)


class RecentInteractionOut(BaseModel):
    id: str
    channel: str
    direction: str
    queue_id: str | None
    customer: str = Field(description="the caller's (inbound) or dialled (outbound) address")
    name: str = Field(description="the customer's name when known (chat form, IVR, the clicked CRM record)")
    disposition: str
    created_at: float
    connected_at: float | None
    ended_at: float | None
    completed_at: float | None


@router.get("/me/interactions", tags=["agent"])
def my_recent_interactions(
    svc: ServicesDep, who: AgentDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, list[RecentInteractionOut]]:
    """My own last `limit` completed interactions, newest first: the console's "Recent" list."""
    rows = recent_completed(svc.engine, _tenant(who), who.subject_id, limit)
    out = []
    for r in rows:
        data = r.data or {}
        name = next(
            (str(data[k]) for k in ("name", "customer_name", "caller_name", CLICKED_RECORD_NAME) if data.get(k)), ""
        )
        out.append(
            RecentInteractionOut(
                id=r.id,
                channel=r.channel,
                direction=r.direction,
                queue_id=r.queue_id,
                customer=r.to_address if r.direction == "outbound" else r.from_address,
                name=name,
                disposition=r.disposition,
                created_at=r.created_at,
                connected_at=r.connected_at,
                ended_at=r.ended_at,
                completed_at=r.completed_at,
            )
        )
    return {"interactions": out}


@router.post(
    "/me/interactions/{interaction_id}/end", tags=["agent"], response_model=InteractionView, responses={503: {}}
)
async def end_interaction(interaction_id: str, body: EndIn, request: Request, svc: ServicesDep, who: AgentDep) -> Any:
    """Hang up / close the chat: the interaction goes to wrap-up. A call of an outside PBX that follows
    `hang_up` is hung up by it first: if it refuses or does not answer, nothing changes (503 saying so)."""
    tenant_id = _tenant(who)
    await _owned(svc, tenant_id, interaction_id, who.subject_id)
    router_ = carriers(request)
    if await router_.pbx_follows(tenant_id, interaction_id, "hang_up"):  # from memory: most tenants have no PBX
        view = await _interaction(svc, tenant_id, interaction_id)
        if view.channel == "phone" and view.ended_at is None:
            try:
                await router_.hang_up(tenant_id, interaction_id, who.subject_id)
            except CommandFailed as error:
                return error_response(503, "telephony_unavailable", str(error))
    await execute(svc, tenant_id, cmd.EndInteraction(interaction_id, body.reason))
    return await _interaction(svc, tenant_id, interaction_id)


@router.put("/me/interactions/{interaction_id}/wrap-up", tags=["agent"])
async def save_wrap_up(interaction_id: str, body: CompleteIn, svc: ServicesDep, who: AgentDep) -> CompleteIn:
    """Keeps the disposition and notes typed so far (the console saves as the agent types). When the
    wrap-up time runs out before Complete, the interaction completes with them and its auto log carries them.
    409 once the interaction is completed or when it is not yours."""
    tenant_id = _tenant(who)
    await execute(svc, tenant_id, cmd.SaveWrapUp(who.subject_id, interaction_id, body.disposition, body.notes))
    return body


@router.get("/me/interactions/{interaction_id}/wrap-up", tags=["agent"])
async def read_wrap_up(interaction_id: str, svc: ServicesDep, who: AgentDep) -> CompleteIn:
    """The disposition and notes saved so far (a console that reloads shows them again)."""

    try:
        saved = await svc.node.perform(_tenant(who), ReadWrapUp(agent_id=who.subject_id, interaction_id=interaction_id))
        return CompleteIn(**saved)
    except NotFound as error:
        raise await explain(svc, _tenant(who), error) from None


@router.post("/me/interactions/{interaction_id}/complete", status_code=204, tags=["agent"])
async def complete_interaction(interaction_id: str, body: CompleteIn, svc: ServicesDep, who: AgentDep) -> Response:
    """Finish wrap-up with a disposition and notes. 422 (field `disposition`) when the interaction's queue
    requires a disposition and none is given, or lists its dispositions and this is not one of them."""
    await complete(svc, who, interaction_id, body)
    return Response(status_code=204)


async def complete(svc: Services, who: Principal, interaction_id: str, body: CompleteIn) -> None:
    """What `POST /api/v1/me/interactions/{interaction_id}/complete` does (also served by
    callbridge.web.api.busiest)."""
    tenant_id = _tenant(who)
    check = CheckDisposition(agent_id=who.subject_id, interaction_id=interaction_id, disposition=body.disposition)
    await svc.node.perform(tenant_id, check)
    await execute(svc, tenant_id, cmd.CompleteInteraction(who.subject_id, interaction_id, body.disposition, body.notes))


async def _hold(svc: ServicesDep, request: Request, who: AgentDep, interaction_id: str, *, held: bool) -> Response:
    tenant_id = _tenant(who)
    operation = HoldCall(interaction_id=interaction_id, agent_id=who.subject_id, held=held)
    try:
        view: InteractionView = await svc.node.perform(tenant_id, operation)
    except NotFound as error:
        raise await explain(svc, tenant_id, error) from None
    except CommandFailed as error:
        return error_response(503, "telephony_unavailable", str(error))
    return JSONResponse(view.model_dump(mode="json"))


@router.get("/me/interactions/{interaction_id}/hold", tags=["agent"])
async def hold_state(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> dict[str, Any]:
    """Whether this call can be put on hold from the console (`available`: the tenant has a telephony
    command webhook) and since when it is on hold (`on_hold_since`, epoch seconds, or null)."""
    tenant_id = _tenant(who)
    view = await _interaction(svc, tenant_id, interaction_id)
    if view.agent_id != who.subject_id:
        raise NotFound("interaction", interaction_id)
    holds: CallHoldService = request.app.state.channels.hold
    since = view.data.get(HOLD_KEY)
    return {"available": await holds.available(tenant_id), "on_hold_since": None if since is None else float(since)}


@router.post(
    "/me/interactions/{interaction_id}/hold", response_model=InteractionView, tags=["agent"], responses={503: {}}
)
async def hold_call(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> Response:
    """Puts the caller on hold: the PBX is told (the tenant's command webhook, or Callbridge's own voice server
    carrying the call, on whichever node it runs: the caller hears the hold music), then the call shows
    `data.on_hold_since`. 409 unless the call is connected to you and not on hold; 503 when the tenant has no
    command webhook, the PBX refuses or does not answer, or the voice server carrying the call has stopped
    (nothing changes)."""
    return await _hold(svc, request, who, interaction_id, held=True)


@router.post(
    "/me/interactions/{interaction_id}/resume", response_model=InteractionView, tags=["agent"], responses={503: {}}
)
async def resume_call(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> Response:
    """Takes the caller off hold (as hold, the other way)."""
    return await _hold(svc, request, who, interaction_id, held=False)


class ClickedRecordIn(BaseModel):
    """The CRM record whose phone number was clicked (the CTI host's `clickToDial` event)."""

    model_config = ConfigDict(extra="forbid")

    object_type: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    record_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: Annotated[str, StringConstraints(max_length=300)] = ""


class DialIn(CallIn):
    record: ClickedRecordIn | None = Field(
        default=None, description="The CRM record the number was clicked on: the call's auto log is linked to it"
    )


@router.post("/me/calls", status_code=201, tags=["agent"], response_model=InteractionView, responses={503: {}})
async def place_call(body: DialIn, request: Request, svc: ServicesDep, who: AgentDep) -> Any:
    """Click to dial: an outbound call for me, connected at once (linked to the clicked CRM record, if given).
    With voice on and a desk phone of mine, it is a real call: my phone rings first, then the customer is
    dialled through the trunk with the tenant's number; busy, no answer and failure end the interaction with
    that reason (422 naming `to_address` when it is not an E.164 number; 503 without a trunk or a number). With
    voice on several nodes, the voice server of the node that serves this request places and carries the call."""
    tenant_id = _tenant(who)
    outside = voice_calls(request)
    try:
        dialled = outside is not None and await outside.dials_for(tenant_id, who.subject_id, body.to_address)
    except DialRefused as refused:
        raise InvalidField(str(refused), "to_address") from None
    except CommandFailed as error:
        return error_response(503, "telephony_unavailable", str(error))
    # a call the voice controller places is named like its inbound calls (`sip-…`): if Callbridge stops while
    # it is live, the next start ends it as failed instead of leaving it connected to nobody
    interaction_id = f"sip-{uuid.uuid4().hex[:24]}" if dialled else str(uuid.uuid4())
    data = dict(body.data)
    data.pop(VOICE_NODE, None)  # only Callbridge says which node carries a call
    if dialled and svc.node.node_id is not None:
        # this node's controller places the call and carries it: the holder's decisions about it (the agent
        # ends it in the console) come here, and the call fails if this node dies (voice_nodes.py, ADR 0014)
        data[VOICE_NODE] = svc.node.node_id
    if body.record is not None:
        data[CLICKED_OBJECT_TYPE] = body.record.object_type
        data[CLICKED_RECORD_ID] = body.record.record_id
        data[CLICKED_RECORD_NAME] = body.record.name
    await execute(
        svc,
        tenant_id,
        cmd.StartOutbound(
            interaction_id,
            who.subject_id,
            body.to_address,
            queue_id=body.queue_id,
            data=data,
            wrap_up_seconds=svc.settings.default_wrap_up_seconds,
        ),
        queue_field="queue_id",
    )
    view = await _interaction(svc, tenant_id, interaction_id)
    if dialled and outside is not None:
        await outside.place_call(tenant_id, interaction_id, who.subject_id, body.to_address)
    elif await carriers(request).pbx_follows(tenant_id, interaction_id, "dial"):
        call = OutboundCall(tenant_id, interaction_id, who.subject_id, body.to_address)
        try:
            await carriers(request).place_call(call)
        except CommandFailed as error:  # nobody was dialled: the interaction ends as failed, with the reason
            await execute(svc, tenant_id, cmd.FailInteraction(interaction_id, str(error)))
            return error_response(503, "telephony_unavailable", str(error))
    return view


@router.post("/me/sign-out", status_code=204, tags=["agent"])
async def sign_out(
    request: Request,
    svc: ServicesDep,
    who: AgentDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    token = credentials.credentials if credentials is not None else request.cookies.get(SESSION_COOKIE, "")
    await sign_out_agent(svc.engine, svc.node, _tenant(who), who.subject_id, token)
    response = Response(status_code=204)
    delete_cookie(response, request, svc.settings, SESSION_COOKIE, frameable=True)
    return response


@router.post("/realtime/tickets", status_code=201, tags=["realtime"])
def issue_ticket(svc: ServicesDep, who: PrincipalDep, tenant_id: str | None = None) -> TicketOut:
    """A single-use ticket to open the event WebSocket (`/api/v1/realtime?ticket=…`) within seconds.

    Agents and supervisors get their own tenant's events; a Callbridge administrator names the tenant.
    """
    if who.tenant_id is None:
        if not tenant_id or not svc.node.has_tenant(tenant_id):
            raise HTTPException(422, "tenant_id: name the tenant whose events you want")
        who = replace(who, tenant_id=tenant_id)
    elif tenant_id not in (None, who.tenant_id):
        raise HTTPException(404, f"tenant {tenant_id!r} does not exist")
    ticket = svc.tickets.issue(who, svc.clock.now())
    return TicketOut(ticket=ticket, expires_in=svc.tickets.lifetime_seconds, url=f"/api/v1/realtime?ticket={ticket}")


async def _owned(svc: ServicesDep, tenant_id: str, interaction_id: str, agent_id: str) -> None:
    try:
        view = await _interaction(svc, tenant_id, interaction_id)
    except NotFound as error:
        raise await explain(svc, tenant_id, error) from None
    if view.agent_id != agent_id:
        raise InvalidTransition(f"interaction {interaction_id!r} is not handled by you")
