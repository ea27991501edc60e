"""Voice on several nodes: which node's voice controller carries each call, and what follows from it (adr/0014).

Kamailio's dispatcher gives each new call to any live controller, so the node whose controller carries a call need
not be the node that holds the call's tenant:

- **The carrier is written down.** The controller puts its node's name in the interaction's data
  (`voice_node`) when it reports `call.incoming`, so the interaction's row says which node carries the call.
- **Facts go to the holder.** The controller reports through `ContactCenterNode.perform`
  (`HandleTelephonyEvent`), applied in place on the holder and forwarded to it from anywhere else.
- **Decisions come back.** On the holder, `VoiceRelay` sees each batch: an offer, a withdrawn offer, a transfer
  or the end of a call carried by another node is sent to that node's subject on the bus
  (`callbridge.node.<id>.voice`), where its controller acts on it exactly as on a local batch
  (`VoiceController.decide`).
- **Commands go to the carrier.** What an agent asks of a call's media or dialog (hold and resume, a transfer to
  an outside number, a consult) is a named, serialisable `CarrierOperation`, sent by `CarrierCommands` to the
  carrier's subject (`callbridge.node.<id>.voice-ops`) as a request on the bus and answered with the outcome or
  the error (the controller's refusals cross nodes by name); run in place when this node carries the call. A
  carrier that is gone answers nothing: the caller gets `CommandFailed` (503) saying so.
- **A carrier that dies fails its calls.** After each lease round the holder looks for live calls whose carrier
  is not among the live nodes (its heartbeat row in `cluster_nodes` expired) and ends them `failed` with
  `CARRIER_GONE`, two rounds in a row so that a node that has just joined is never taken for a dead one. The
  caller's dialog is ended too (Kamailio's dialog module sends the BYE the dead controller cannot send).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

from callbridge.channels.base import CommandFailed
from callbridge.domain import commands as cmd
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import DomainError
from callbridge.domain.model import AgentStatus, InteractionState, OfferOutcome
from callbridge.services.node import BatchEffects, ContactCenterNode
from callbridge.services.operations import ReadInteraction, ReadOperation, decode_error, encode_error

if TYPE_CHECKING:
    from callbridge.channels.sip import VoiceChannel
    from callbridge.services.forwarding import NatsBus

log = logging.getLogger(__name__)

VOICE_NODE = "voice_node"  # the interaction data key naming the node whose controller carries the call
CARRIER_GONE = "the voice server carrying the call stopped"
LIVE_STATES = frozenset({InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.CONNECTED})

DecisionKind = Literal["ring", "stop_ringing", "transferred", "ended"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the contact center decided about a call, as its voice controller follows it."""

    kind: DecisionKind
    agent_id: str | None = None


def decision_for(event: ev.Event) -> Decision | None:
    if isinstance(event, ev.InteractionOffered):
        return Decision("ring", event.agent_id)
    if isinstance(event, ev.InteractionTransferred):
        return Decision("transferred", event.agent_id)  # the agent it was transferred from
    if isinstance(event, ev.OfferEnded) and event.outcome is not OfferOutcome.ACCEPTED:
        return Decision("stop_ringing", event.agent_id)
    if isinstance(
        event, ev.InteractionWrapUpStarted | ev.InteractionCompleted | ev.InteractionAbandoned | ev.InteractionFailed
    ):
        return Decision("ended")
    return None


def voice_subject(node_id: str) -> str:
    from callbridge.services.forwarding import node_subject

    return node_subject(node_id, "voice")


def decision_message(tenant_id: str, interaction_id: str, decision: Decision) -> dict[str, Any]:
    return {"t": tenant_id, "i": interaction_id, "k": decision.kind, "a": decision.agent_id}


def decision_from(body: dict[str, Any]) -> tuple[str, str, Decision] | None:
    kind = body.get("k")
    if kind not in ("ring", "stop_ringing", "transferred", "ended"):
        return None
    agent = body.get("a")
    return str(body.get("t")), str(body.get("i")), Decision(kind, str(agent) if agent is not None else None)


class VoiceRelay:
    """On the holder: decisions about calls another node's controller carries go to that node over the bus."""

    def __init__(self, node_id: str, send: Callable[[str, dict[str, Any]], None]) -> None:
        self.node_id = node_id
        self.send = send  # NatsBus.broadcast: in order with everything else the node publishes

    def __call__(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None:
        messages: list[tuple[str, dict[str, Any]]] = []
        for event in events:
            decision = decision_for(event)
            interaction_id = event.about_interaction
            if decision is None or interaction_id is None:
                continue
            interaction = cc.interactions.get(interaction_id)
            carrier = interaction.data.get(VOICE_NODE) if interaction is not None else None
            if carrier and carrier != self.node_id:
                messages.append((voice_subject(carrier), decision_message(tenant_id, interaction_id, decision)))
        if not messages:
            return None
        return BatchEffects(after_commit=[partial(self._send_all, messages)])

    async def _send_all(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        for subject, body in messages:
            self.send(subject, body)


RESCAN_ROUNDS = 10


class GoneCarriers:
    """On the holder, after each lease round: live calls carried by a node that is no longer live end `failed`."""

    def __init__(self, node: ContactCenterNode) -> None:
        self.node = node
        self._suspects: set[tuple[str, str]] = set()  # seen with a missing carrier at the last round
        self._looked_at: tuple[frozenset[str], frozenset[str]] | None = None  # (live nodes, held tenants)
        self._rounds_skipped = 0

    async def check(self, live_nodes: list[str]) -> list[tuple[str, str]]:
        """Fails the calls whose carrier was missing at this round and the one before; returns them."""
        live = frozenset(live_nodes)
        held = frozenset(self.node.held_tenants())
        # A carrier is lost only when the live nodes change, so the calls are read then, while suspects wait, when
        # the tenants held change, and every RESCAN_ROUNDS rounds (a node that died before its heartbeat was seen)
        if not self._suspects and self._looked_at == (live, held) and self._rounds_skipped < RESCAN_ROUNDS:
            self._rounds_skipped += 1
            return []
        self._looked_at, self._rounds_skipped = (live, held), 0
        seen: set[tuple[str, str]] = set()
        for tenant_id in held:
            with contextlib.suppress(Exception):  # the tenant left this node meanwhile
                for interaction_id in await self.node.read(tenant_id, partial(_carried_by_gone, live)):
                    seen.add((tenant_id, interaction_id))
        due = sorted(seen & self._suspects)
        self._suspects = seen - set(due)
        for tenant_id, interaction_id in due:
            try:
                await self.node.execute(tenant_id, cmd.FailInteraction(interaction_id, CARRIER_GONE))
                log.warning(
                    "voice: %s failed: the node carrying it is gone", interaction_id, extra={"tenant_id": tenant_id}
                )
            except DomainError as error:  # it ended meanwhile
                log.info("voice: %s already over: %s", interaction_id, error)
            except Exception:
                log.exception("voice: could not fail %s", interaction_id)
        return due


def _carried_by_gone(live: frozenset[str], cc: ContactCenter) -> list[str]:
    return [
        interaction.id
        for interaction in cc.interactions.values()
        if interaction.state in LIVE_STATES and (carrier := interaction.data.get(VOICE_NODE)) and carrier not in live
    ]


RoundHook = Callable[[list[str]], Awaitable[Any]]


# ------------------------------------------------------------------ commands for the carrier

CARRIER_OPERATIONS: dict[str, type[CarrierOperation]] = {}
CARRIER_TIMEOUT_SECONDS = 5.0


def carrier_subject(node_id: str) -> str:
    from callbridge.services.forwarding import node_subject

    return node_subject(node_id, "voice-ops")


class CarrierOperation(BaseModel):
    """What an agent asks of a call's media or dialog, run by the controller carrying the call (`run`), on this
    node or sent to its carrier by name (`encode`, `decode_carrier_operation`). Raises CommandFailed (the media
    could not follow: 503) or a domain error (the call is not in a state for it: 409)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    tenant_id: str
    interaction_id: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in vars(cls):
            if cls.name in CARRIER_OPERATIONS:
                raise TypeError(f"two carrier operations are named {cls.name!r}")
            CARRIER_OPERATIONS[cls.name] = cls

    async def run(self, voice: VoiceChannel) -> None:
        raise NotImplementedError

    def encode(self) -> dict[str, Any]:
        return {"op": self.name, "args": self.model_dump(mode="json")}


def decode_carrier_operation(body: dict[str, Any]) -> CarrierOperation | None:
    kind = CARRIER_OPERATIONS.get(str(body.get("op")))
    return None if kind is None else kind.model_validate(body.get("args") or {})


def _controller(voice: VoiceChannel) -> Any:
    if voice.controller is None:
        raise CommandFailed("the voice server carrying this call is stopping")
    return voice.controller


class HoldMedia(CarrierOperation):
    """The caller hears the hold music and neither side hears the other (`held`), or they talk again."""

    name: ClassVar[str] = "hold_media"
    held: bool

    async def run(self, voice: VoiceChannel) -> None:
        controller = _controller(voice)
        if self.held:
            await controller.hold(self.interaction_id)
        else:
            await controller.resume(self.interaction_id)


class TransferOutside(CarrierOperation):
    """A blind transfer of a connected call to an outside number, through the trunk."""

    name: ClassVar[str] = "transfer_outside"
    agent_id: str
    number: str

    async def run(self, voice: VoiceChannel) -> None:
        if voice.outside is None:
            raise CommandFailed("the voice server carrying this call is stopping")
        await voice.outside.transfer_out(self.tenant_id, self.interaction_id, self.agent_id, self.number)


class StartConsult(CarrierOperation):
    """Warm transfer, first step: the colleague's phone rings while the caller holds."""

    name: ClassVar[str] = "start_consult"
    agent_id: str
    target: str

    async def run(self, voice: VoiceChannel) -> None:
        from callbridge.channels.sip import consult

        await consult.start(_controller(voice), self.tenant_id, self.interaction_id, self.agent_id, self.target)


class EndConsult(CarrierOperation):
    """Warm transfer, done (`complete`: the caller talks to the colleague) or called off."""

    name: ClassVar[str] = "end_consult"
    agent_id: str
    complete: bool

    async def run(self, voice: VoiceChannel) -> None:
        from callbridge.channels.sip import consult

        end = consult.complete if self.complete else consult.cancel
        await end(_controller(voice), self.tenant_id, self.interaction_id, self.agent_id)


async def carrier_of(node: ContactCenterNode, tenant_id: str, interaction_id: str) -> str | None:
    """The node whose controller carries a live call, as its interaction records it (None: not a call of ours)."""
    view = await node.perform(tenant_id, ReadInteraction(interaction_id=interaction_id, missing_ok=True))
    carrier = view.data.get(VOICE_NODE) if view is not None else None
    return str(carrier) if carrier else None


class CarrierCommands:
    """Sends carrier operations to the node carrying the call, in place when it is this one."""

    def __init__(self, voice: VoiceChannel, node_id: str | None, bus: NatsBus | None) -> None:
        self.voice = voice
        self.node_id = node_id
        self.here = node_id or ""  # how `carrier` names this node (a node outside a cluster has no name)
        self.bus = bus
        self.timeout_seconds = CARRIER_TIMEOUT_SECONDS

    def carries(self, interaction_id: str) -> bool:
        controller = self.voice.controller
        return controller is not None and bool(controller.carries(interaction_id))

    async def carrier(self, node: ContactCenterNode, tenant_id: str, interaction_id: str) -> str | None:
        """This node (`here`) when its controller carries the call, else the other node its interaction names as
        the carrier; None when no controller of ours carries it."""
        if self.carries(interaction_id):
            return self.here
        if self.bus is None:
            return None
        found = await carrier_of(node, tenant_id, interaction_id)
        return found if found != self.node_id else None  # named here but not carried here: a restart lost it

    async def send(self, carrier: str, operation: CarrierOperation) -> None:
        if carrier == self.here or self.bus is None:
            await operation.run(self.voice)
            return
        from callbridge.services.forwarding import NoAnswer

        try:
            answer = await self.bus.ask(carrier_subject(carrier), operation.encode(), self.timeout_seconds)
        except NoAnswer as error:
            if error.applied is False:
                raise CommandFailed(
                    "the voice server carrying this call has stopped: the call cannot be changed any more and ends "
                    "shortly"
                ) from None
            raise CommandFailed(
                f"the voice server carrying this call did not answer within {self.timeout_seconds:g} s: it may or "
                "may not have done it; look at the call before trying again"
            ) from None
        if "error" in answer:
            raise decode_error(answer["error"])

    async def serve(self, body: dict[str, Any]) -> dict[str, Any]:
        """On the carrier: one operation another node sent, and its outcome."""
        try:
            operation = decode_carrier_operation(body)
            if operation is None:
                return {"error": {"kind": "RemoteError", "message": f"unknown voice operation {body.get('op')!r}"}}
            await operation.run(self.voice)
        except Exception as error:
            if not isinstance(error, CommandFailed | DomainError):
                log.exception("voice: an operation from another node failed")
            return {"error": encode_error(error)}
        return {"ok": None}


class NobodySignedIn(ReadOperation):
    """Whether no agent who works the queue is signed in (voicemail overflow diverts such a queue's callers at
    once), read on the tenant's holder from wherever the call is carried."""

    name: ClassVar[str] = "nobody_signed_in"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(bool)
    queue_id: str

    def view(self, cc: ContactCenter) -> bool:
        return not any(
            agent.presence is not AgentStatus.LOGGED_OUT and self.queue_id in agent.profile.queue_ids
            for agent in cc.agents.values()
        )
