"""Commands: what someone asks the contact center to do, as verbs.

Nobody changes a command once made; like events, they are not declared frozen only because a frozen
dataclass costs three times as much to build, and every request and timer builds one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from callbridge.domain.model import AgentStatus, Channel


@dataclass(slots=True)
class Command:
    pass


@dataclass(slots=True)
class SignIn(Command):
    agent_id: str


@dataclass(slots=True)
class SignOut(Command):
    agent_id: str


@dataclass(slots=True)
class SetPresence(Command):
    """The agent picks available, break (with a reason) or working offline."""

    agent_id: str
    presence: AgentStatus
    reason: str = ""


@dataclass(slots=True)
class ReportConnectionLost(Command):
    agent_id: str


@dataclass(slots=True)
class SubmitInteraction(Command):
    """An inbound interaction arrives in a queue."""

    interaction_id: str
    queue_id: str
    channel: Channel
    from_address: str = ""
    to_address: str = ""
    case_number: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    priority: int | None = None


@dataclass(slots=True)
class StartOutbound(Command):
    """Click to dial: the agent places a call; it is connected to them at once."""

    interaction_id: str
    agent_id: str
    to_address: str
    from_address: str = ""
    queue_id: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)
    wrap_up_seconds: int = 30


@dataclass(slots=True)
class AcceptOffer(Command):
    agent_id: str
    interaction_id: str


@dataclass(slots=True)
class RejectOffer(Command):
    agent_id: str
    interaction_id: str


@dataclass(slots=True)
class MissOffer(Command):
    """The agent's phone did not take the offer (the voice channel): it is registered but did not answer in time
    (`timed_out`, like an offer nobody answered), or it is not registered, so nothing rang
    (`phone_not_registered`, also the agent's break reason). Either way the offer is missed now, not at its
    deadline."""

    agent_id: str
    interaction_id: str
    phone_registered: bool = True


@dataclass(slots=True)
class EndInteraction(Command):
    """The conversation is over (hang-up, chat closed) or the customer left the queue."""

    interaction_id: str
    reason: str = "ended"


@dataclass(slots=True)
class SaveWrapUp(Command):
    """The agent's disposition and notes so far, kept as they type: a wrap-up that ends by its timer
    completes with them, so nothing the agent wrote is lost."""

    agent_id: str
    interaction_id: str
    disposition: str = ""
    notes: str = ""


@dataclass(slots=True)
class CompleteInteraction(Command):
    """The agent finishes wrap-up with a disposition and notes."""

    agent_id: str
    interaction_id: str
    disposition: str = ""
    notes: str = ""


@dataclass(slots=True)
class TransferToQueue(Command):
    agent_id: str
    interaction_id: str
    queue_id: str


@dataclass(slots=True)
class TransferToAgent(Command):
    """A blind transfer to a colleague: the interaction is offered to them at once, from its queue; if they
    miss the offer it waits in that queue like any missed offer."""

    agent_id: str
    interaction_id: str
    target_agent_id: str


@dataclass(slots=True)
class StartConsult(Command):
    """A warm transfer's first step: the agent connected to a call talks to a colleague while the caller holds.
    The colleague is busy meanwhile: the consult takes one of their phone places, so they are offered no call."""

    agent_id: str
    interaction_id: str
    target_agent_id: str


@dataclass(slots=True)
class EndConsult(Command):
    """The consult is over without a transfer (cancelled, declined, not answered): the colleague is free again.
    A completed consult is a TransferToAgent to the colleague instead, which ends it."""

    agent_id: str
    interaction_id: str
    target_agent_id: str


@dataclass(slots=True)
class TransferOut(Command):
    """A blind transfer to an outside number: the carrier connects the customer there, and the agent's part of
    the conversation ends (wrap-up)."""

    agent_id: str
    interaction_id: str
    to_address: str


@dataclass(slots=True)
class FailInteraction(Command):
    interaction_id: str
    reason: str


@dataclass(slots=True)
class Tick(Command):
    """Time has passed: expire offers and wrap-ups that are due."""
