"""Holding a connected call: the PBX is told first, then the hold is recorded and published.

While a call is on hold its interaction's `data` carries `on_hold_since` (epoch seconds, as text), so every
`interaction.changed` and snapshot shows it. Each hold and resume appends a row to `interaction_events`
(`held`, `resumed` with `held_seconds`), in the same transaction as the change, for hold-time reports.
A call that ends or is transferred while on hold is resumed (`reason: "ended"`).

The order matters: the command goes to the PBX before anything changes, so a PBX that refuses or does not
answer leaves the call as it was (the agent sees why). The PBX may also report `call.held` and
`call.resumed` itself (telephony events API); those are recorded the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import TypeAdapter
from sqlalchemy import Connection

from callbridge.channels.base import CommandFailed, TelephonyChannel
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.domain.model import Channel, Interaction, InteractionState
from callbridge.realtime.audience import AgentAudience, SupervisorAudience
from callbridge.realtime.hub import Delivery
from callbridge.realtime.views import interaction_view
from callbridge.realtime.wire import InteractionChangedEvent, InteractionView
from callbridge.services.node import BatchEffects, ContactCenterNode
from callbridge.services.operations import Operation, crosses_nodes
from callbridge.store.live_state import write_interaction_data

HOLD_KEY = "on_hold_since"
Source = Literal["agent", "pbx", "ended"]
Writer = Callable[[Connection], None]


def on_hold(interaction: Interaction) -> bool:
    return HOLD_KEY in interaction.data


def set_hold(tenant_id: str, interaction: Interaction, held: bool, now: float, source: Source) -> Writer:
    """Marks the live interaction held or not; returns the rows to write in the same transaction."""
    data = dict(interaction.data)
    detail: dict[str, object] = {"source": source}
    if held:
        data[HOLD_KEY] = repr(now)
    else:
        since = float(data.pop(HOLD_KEY, repr(now)))
        detail["held_seconds"] = round(max(0.0, now - since), 3)
    interaction.data = data
    values = {
        "tenant_id": tenant_id,
        "interaction_id": interaction.id,
        "type": "held" if held else "resumed",
        "at": now,
        "agent_id": interaction.agent_id,
        "queue_id": interaction.queue_id,
        "detail": detail,
    }

    def write(connection: Connection) -> None:
        write_interaction_data(connection, tenant_id, interaction.id, data, event=values)

    return write


def publish(node: ContactCenterNode, cc: ContactCenter, interaction_id: str) -> None:
    """Sends the interaction's current state (call from inside the node's loop: a read or a change)."""
    interaction = cc.interactions.get(interaction_id)
    if interaction is None:
        return
    frame = InteractionChangedEvent(interaction=interaction_view(interaction)).model_dump_json()
    audience = AgentAudience(frozenset({interaction.agent_id})) if interaction.agent_id else SupervisorAudience()
    node.hub.publish(cc.tenant_id, [Delivery(audience, frame)], cc.queue_members)


def check_holdable(cc: ContactCenter, interaction_id: str, agent_id: str | None, held: bool) -> Interaction:
    """The call must be a live phone call, connected (to `agent_id` when given), and not already so."""
    interaction = cc.interactions.get(interaction_id)
    if interaction is None:
        raise NotFound("interaction", interaction_id)
    if interaction.channel is not Channel.PHONE:
        raise InvalidTransition(f"interaction {interaction_id!r} is a {interaction.channel}, not a call")
    if agent_id is not None and interaction.agent_id != agent_id:
        raise InvalidTransition(f"interaction {interaction_id!r} is not handled by you")
    if interaction.state is not InteractionState.CONNECTED:
        raise InvalidTransition(f"call {interaction_id!r} is {interaction.state}: only a connected call can be held")
    if on_hold(interaction) == held:
        raise InvalidTransition(f"call {interaction_id!r} is {'already' if held else 'not'} on hold")
    return interaction


class CallHoldService:
    def __init__(self, node: ContactCenterNode, carrier: TelephonyChannel) -> None:
        self.node = node
        self.carrier = carrier
        node.add_listener(self._on_batch)
        node.provide(CallHoldService, self)

    async def available(self, tenant_id: str) -> bool:
        """Whether the tenant's carrier can hold calls (the command webhook is set up)."""
        configured = getattr(self.carrier, "configured", None)
        return True if configured is None else bool(await configured(tenant_id))

    async def hold(self, tenant_id: str, interaction_id: str, agent_id: str) -> InteractionView:
        return await self._change(tenant_id, interaction_id, agent_id, held=True)

    async def resume(self, tenant_id: str, interaction_id: str, agent_id: str) -> InteractionView:
        return await self._change(tenant_id, interaction_id, agent_id, held=False)

    async def _change(self, tenant_id: str, interaction_id: str, agent_id: str, *, held: bool) -> InteractionView:
        await self.node.read(tenant_id, lambda cc: check_holdable(cc, interaction_id, agent_id, held))
        if held:  # raises CommandFailed: nothing has changed
            await self.carrier.hold(tenant_id, interaction_id, agent_id)
        else:
            await self.carrier.resume(tenant_id, interaction_id, agent_id)
        writes: list[Writer] = []

        def change(cc: ContactCenter, now: float) -> list[ev.Event]:
            interaction = check_holdable(cc, interaction_id, agent_id, held)
            writes.append(set_hold(tenant_id, interaction, held, now, "agent"))
            return []

        await self.node.configure(tenant_id, change, lambda connection: writes[0](connection))

        def view(cc: ContactCenter) -> InteractionView:
            publish(self.node, cc, interaction_id)
            return interaction_view(cc.interactions[interaction_id])

        return await self.node.read(tenant_id, view)

    def _on_batch(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None:
        """A call that leaves the connected state while on hold (ended, transferred) is resumed."""
        writes: list[Writer] = []
        released: list[str] = []
        for event in events:
            interaction_id = event.about_interaction
            interaction = cc.interactions.get(interaction_id) if interaction_id else None
            if interaction is None or not on_hold(interaction) or interaction.state is InteractionState.CONNECTED:
                continue
            writes.append(set_hold(tenant_id, interaction, False, event.at, "ended"))
            released.append(interaction.id)
        if not writes:
            return None

        async def correct() -> None:  # the frames of this batch were made before the hold was released
            def send(cc: ContactCenter) -> None:
                for interaction_id in released:
                    publish(self.node, cc, interaction_id)

            await self.node.read(tenant_id, send)

        return BatchEffects(writes=writes, after_commit=[correct])


crosses_nodes(CommandFailed)  # a console on another node shows the PBX's refusal as the holder's would


class HoldCall(Operation):
    """An agent holds (`held`) or resumes a call, on the node holding the tenant; CommandFailed if the PBX
    did not (nothing changed)."""

    name: ClassVar[str] = "hold_call"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(InteractionView)
    interaction_id: str
    agent_id: str
    held: bool

    async def run(self, node: ContactCenterNode, tenant_id: str) -> InteractionView:
        holds = node.provided(CallHoldService)
        change = holds.hold if self.held else holds.resume
        return await change(tenant_id, self.interaction_id, self.agent_id)
