"""The telephony events API: a PBX or CPaaS reports what happens to calls (docs/channels.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from callbridge.channels.base import TelephonyEvent, TelephonyEventType
from callbridge.channels.hold import HOLD_KEY
from callbridge.channels.telephony import HandleTelephonyEvent, TelephonyOutcome, body_fingerprint
from callbridge.realtime.wire import InteractionView
from callbridge.web.api.schemas import Address, DataValue, Identifier, Input
from callbridge.web.deps import IntegrationDep, ServicesDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["telephony"])

EventId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"),
    Field(description="Unique per event: a retry carries the same id. Letters, digits, '_', '.', ':', '-'; ≤ 128"),
]


class TelephonyEventIn(Input):
    event_id: EventId
    type: TelephonyEventType
    call_id: Identifier = Field(description="The carrier's call id; it becomes the interaction id")
    from_address: Address = Field(default="", description="Caller id (inbound); the number shown (outbound)")
    to_address: Address = Field(default="", description="Dialled number (inbound); the customer's number (outbound)")
    queue_id: Identifier | None = Field(default=None, description="call.incoming: the queue (required)")
    agent_id: Identifier | None = Field(
        default=None, description="outbound.requested: the agent placing it (required); call.answered: who answered"
    )
    case_number: Annotated[str, StringConstraints(max_length=64)] = ""
    ivr: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], DataValue] = Field(
        default_factory=dict, max_length=50, description="IVR digits and other data collected before queueing"
    )
    priority: int | None = Field(default=None, ge=-100, le=100)
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


class TelephonyEventOut(Input):
    event_id: str
    type: str
    call_id: str
    interaction_id: str
    applied: bool = Field(description="false: the call was already in that state, nothing changed")
    interaction: InteractionView | None


@router.post(
    "/telephony/events",
    response_model=TelephonyEventOut,
    responses={200: {"headers": {"Idempotent-Replayed": {"description": "true when this event id was seen before"}}}},
)
async def telephony_event(body: TelephonyEventIn, svc: ServicesDep, who: IntegrationDep) -> JSONResponse:
    """A call event. Idempotent by `event_id`: the same event again gets the first answer (header
    `Idempotent-Replayed: true`) and changes nothing; a different body under a used `event_id` is a 409."""
    assert who.tenant_id is not None
    if body.type == "call.incoming" and body.queue_id is None:
        raise InvalidField("call.incoming needs the queue the call waits in", "queue_id")
    if body.type == "outbound.requested":
        if body.agent_id is None:
            raise InvalidField("outbound.requested needs the agent placing the call", "agent_id")
        if not body.to_address:
            raise InvalidField("outbound.requested needs the number being dialled", "to_address")
    if HOLD_KEY in body.ivr:
        raise InvalidField(f"{HOLD_KEY} is kept by Callbridge (the call's hold): use another name", f"ivr.{HOLD_KEY}")
    event = TelephonyEvent(
        event_id=body.event_id,
        type=body.type,
        call_id=body.call_id,
        from_address=body.from_address,
        to_address=body.to_address,
        queue_id=body.queue_id,
        agent_id=body.agent_id,
        case_number=body.case_number,
        data=body.ivr,
        priority=body.priority,
        reason=body.reason,
    )
    dumped: Any = body.model_dump(mode="json")
    operation = HandleTelephonyEvent(event=event, fingerprint=body_fingerprint(dumped))
    outcome: TelephonyOutcome = await svc.node.perform(who.tenant_id, operation)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, headers=headers)
