"""Telephony events → interactions, exactly once per event id.

A carrier reports facts about calls; each becomes at most one command, applied in the same transaction
as the row that remembers the event (`processed_requests`, key `telephony:<event_id>`). The same event
sent again gets the first answer back and changes nothing; another body under a used event id is refused.

Facts that arrive after the interaction has already moved on (a hang-up reported after the agent ended
the call, an answer reported after the agent accepted in the console) are accepted and change nothing
(`applied: false`): carriers retry and race with agents, and neither is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine

from callbridge.channels.base import TelephonyEvent
from callbridge.channels.hold import Writer, on_hold, publish, set_hold
from callbridge.domain import commands as cmd
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.domain.model import Channel, Direction, InteractionState
from callbridge.realtime.views import interaction_view
from callbridge.services.configuration import Conflict, UnknownReference
from callbridge.services.node import ContactCenterNode, InteractionIdTaken
from callbridge.services.operations import Operation
from callbridge.store import processed_requests as processed
from callbridge.store.live_state import interaction_from_row, stored_interaction_row, stored_interaction_row_in

KEY_PREFIX = "telephony:"
ENDING = frozenset({"call.ended", "call.abandoned", "outbound.ended", "call.failed"})
HOLDING = frozenset({"call.held", "call.resumed"})


@dataclass(frozen=True, slots=True)
class TelephonyOutcome:
    body: dict[str, Any]
    replayed: bool


def body_fingerprint(body: Any) -> str:
    """The same JSON, whatever its key order or spacing, gives the same fingerprint."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class TelephonyService:
    def __init__(self, engine: Engine, node: ContactCenterNode, *, default_wrap_up_seconds: int) -> None:
        self.engine = engine
        self.node = node
        self.default_wrap_up_seconds = default_wrap_up_seconds
        self._in_flight: dict[tuple[str, str], asyncio.Future[TelephonyOutcome]] = {}
        node.provide(TelephonyService, self)

    async def handle(self, tenant_id: str, event: TelephonyEvent, fingerprint: str) -> TelephonyOutcome:
        slot = (tenant_id, KEY_PREFIX + event.event_id)
        while (running := self._in_flight.get(slot)) is not None:  # the same event id is being applied
            with contextlib.suppress(Exception):
                await asyncio.shield(running)
        future: asyncio.Future[TelephonyOutcome] = asyncio.get_running_loop().create_future()
        self._in_flight[slot] = future
        try:
            outcome = await self._handle_once(tenant_id, event, slot[1], fingerprint)
            future.set_result(outcome)
            return outcome
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # marked as retrieved: a waiter looks for the stored answer itself
            raise
        finally:
            del self._in_flight[slot]

    async def _handle_once(self, tenant_id: str, event: TelephonyEvent, key: str, fingerprint: str) -> TelephonyOutcome:
        stored = await asyncio.to_thread(self._stored, tenant_id, key)
        if stored is not None:
            if stored.get("fingerprint") != fingerprint:
                raise Conflict(
                    f"event {event.event_id!r} was already received with a different body: use a new event_id",
                    "event_id",
                )
            return TelephonyOutcome(stored["response"], replayed=True)
        return await self._apply(tenant_id, event, key, fingerprint)

    def _stored(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        return processed.answer(self.engine, tenant_id, key)

    async def _apply(self, tenant_id: str, event: TelephonyEvent, key: str, fingerprint: str) -> TelephonyOutcome:
        plan = await self.node.read(tenant_id, lambda cc: self._plan(cc, event))
        row = None
        if plan == "not_live":
            row = await asyncio.to_thread(stored_interaction_row, self.engine, tenant_id, event.call_id)
            if event.type == "call.incoming" or event.type == "outbound.requested":
                if row is not None:
                    raise Conflict(
                        f"call {event.call_id!r} already exists (it has ended): use a new call_id", "call_id"
                    )
                plan = "apply"
            elif row is None:
                raise NotFound("call", event.call_id)
            elif event.type in ENDING or event.type in HOLDING:
                plan = "no_op"  # a hang-up or a hold reported after the call ended
            else:
                raise InvalidTransition(f"call {event.call_id!r} has already ended ({row.state})")
        stored_view = interaction_view(interaction_from_row(row)).model_dump(mode="json") if row is not None else None
        result: dict[str, Any] = {}
        hold_writes: list[Writer] = []

        def change(cc: ContactCenter, now: float) -> list[ev.Event]:
            events: list[ev.Event] = []
            applied = False
            if plan == "apply" and event.type in HOLDING:
                held = event.type == "call.held"
                interaction = cc.interactions.get(event.call_id)
                if (
                    interaction is not None
                    and interaction.state is InteractionState.CONNECTED
                    and on_hold(interaction) != held
                ):
                    hold_writes.append(set_hold(tenant_id, interaction, held, now, "pbx"))
                    applied = True
            elif plan == "apply" and self._still_applies(cc, event):
                command = self._command(cc, event)
                if command is not None:
                    events = cc.handle(command, now)
                    applied = True
            live = cc.interactions.get(event.call_id)
            view = interaction_view(live).model_dump(mode="json") if live is not None else stored_view
            result.update(
                event_id=event.event_id,
                type=event.type,
                call_id=event.call_id,
                interaction_id=event.call_id,
                applied=applied,
                interaction=view,
            )
            return events

        def write(connection: Connection) -> None:
            for hold_write in hold_writes:
                hold_write(connection)
            if result.get("interaction") is None:
                # it ended (and left memory) between the plan and the change, e.g. the agent completed it:
                # the answer, and every replay of it, still shows the interaction, as it is stored
                ended = stored_interaction_row_in(connection, tenant_id, event.call_id)
                if ended is not None:
                    result["interaction"] = interaction_view(interaction_from_row(ended)).model_dump(mode="json")
            processed.remember(
                connection, tenant_id, key, {"fingerprint": fingerprint, "response": result}, self.node.clock.now()
            )

        creates = plan == "apply" and event.type in ("call.incoming", "outbound.requested")
        try:
            # the read above saw no stored call; the node checks again in the transaction that writes it
            await self.node.configure(tenant_id, change, write, new_interaction_id=event.call_id if creates else None)
        except InteractionIdTaken:
            raise Conflict(
                f"call {event.call_id!r} already exists (it has ended): use a new call_id", "call_id"
            ) from None
        if hold_writes:  # no domain event carries a hold: send the interaction as it is now
            await self.node.read(tenant_id, lambda cc: publish(self.node, cc, event.call_id))
        return TelephonyOutcome(dict(result), replayed=False)

    def _plan(self, cc: ContactCenter, event: TelephonyEvent) -> str:
        """Checks what can be checked before the change, naming the request's field when it is wrong."""
        interaction = cc.interactions.get(event.call_id)
        if event.type in ("call.incoming", "outbound.requested"):
            if event.queue_id is not None:
                queue = cc.queues.get(event.queue_id)
                if queue is None:
                    raise UnknownReference(f"queue {event.queue_id!r} does not exist: create it first", "queue_id")
                if queue.channel is not Channel.PHONE:
                    raise Conflict(f"queue {queue.id!r} takes {queue.channel} interactions, not calls", "queue_id")
            if event.type == "outbound.requested":
                agent_id = event.agent_id or ""
                if agent_id not in cc.agents:
                    raise UnknownReference(f"agent {agent_id!r} does not exist", "agent_id")
                if interaction is not None:
                    if interaction.direction is Direction.OUTBOUND and interaction.agent_id == agent_id:
                        return "no_op"  # started by the agent's click to dial
                    raise Conflict(f"call {event.call_id!r} already exists", "call_id")
            elif interaction is not None:
                raise Conflict(f"call {event.call_id!r} already exists", "call_id")
            return "not_live"  # new: the stored interactions are checked next
        if interaction is None:
            return "not_live"
        if interaction.channel is not Channel.PHONE:
            raise Conflict(f"interaction {event.call_id!r} is a {interaction.channel}, not a call", "call_id")
        state = interaction.state
        if event.type in HOLDING:  # either direction
            if state is InteractionState.CONNECTED:
                return "apply" if on_hold(interaction) != (event.type == "call.held") else "no_op"
            if state in (InteractionState.QUEUED, InteractionState.OFFERED):
                raise InvalidTransition(f"call {event.call_id!r} is {state}: only a connected call can be held")
            return "no_op"  # already in wrap-up
        outbound = event.type.startswith("outbound.")
        if event.type != "call.failed" and outbound != (interaction.direction is Direction.OUTBOUND):
            raise Conflict(f"call {event.call_id!r} is {interaction.direction}, not {event.type}", "type")
        if event.type == "call.answered":
            if state is InteractionState.OFFERED:
                if event.agent_id not in (None, interaction.agent_id):
                    raise Conflict(
                        f"call {event.call_id!r} is offered to agent {interaction.agent_id!r}, not {event.agent_id!r}",
                        "agent_id",
                    )
                return "apply"
            if state is InteractionState.CONNECTED and event.agent_id in (None, interaction.agent_id):
                return "no_op"  # the agent accepted in the console first
            if state is InteractionState.QUEUED:
                raise InvalidTransition(f"call {event.call_id!r} is still queued: it has not been offered to an agent")
            raise InvalidTransition(f"call {event.call_id!r} is {state}: it cannot be answered now")
        if event.type == "outbound.answered":
            return "no_op"  # an outbound call is connected to its agent from the start
        # call.ended, call.abandoned, call.failed, outbound.ended
        if state in (InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.CONNECTED):
            return "apply"
        return "no_op"  # already in wrap-up or finished

    def _still_applies(self, cc: ContactCenter, event: TelephonyEvent) -> bool:
        """An ending may have happened since the plan was made (the agent hung up): then there is nothing to end."""
        if event.type not in ENDING:
            return True
        interaction = cc.interactions.get(event.call_id)
        return interaction is not None and interaction.state in (
            InteractionState.QUEUED,
            InteractionState.OFFERED,
            InteractionState.CONNECTED,
        )

    def _command(self, cc: ContactCenter, event: TelephonyEvent) -> cmd.Command | None:
        if event.type == "call.incoming":
            return cmd.SubmitInteraction(
                event.call_id,
                event.queue_id or "",
                Channel.PHONE,
                from_address=event.from_address,
                to_address=event.to_address,
                case_number=event.case_number,
                data=dict(event.data),
                priority=event.priority,
            )
        if event.type == "outbound.requested":
            return cmd.StartOutbound(
                event.call_id,
                event.agent_id or "",
                event.to_address,
                from_address=event.from_address,
                queue_id=event.queue_id,
                data=dict(event.data),
                wrap_up_seconds=self.default_wrap_up_seconds,
            )
        if event.type == "call.answered":
            interaction = cc.interactions[event.call_id]
            return cmd.AcceptOffer(interaction.agent_id or "", event.call_id)
        if event.type == "call.failed":
            return cmd.FailInteraction(event.call_id, event.reason or "failed")
        if event.type in ENDING:
            default = "abandoned" if event.type == "call.abandoned" else "hang-up"
            return cmd.EndInteraction(event.call_id, event.reason or default)
        return None


class HandleTelephonyEvent(Operation):
    """A call event, applied by the node holding the tenant (whichever node the carrier reached)."""

    name: ClassVar[str] = "telephony_event"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(TelephonyOutcome)
    event: TelephonyEvent
    fingerprint: str

    async def run(self, node: ContactCenterNode, tenant_id: str) -> TelephonyOutcome:
        return await node.provided(TelephonyService).handle(tenant_id, self.event, self.fingerprint)
