"""Domain events: facts, in the past tense, returned by every change.

They carry plain values only, so the service layer can persist them in the
append-only logs and turn them into wire events after commit. Nobody changes an
event once made; they are not declared frozen only because a frozen dataclass
costs four times as much to build, and routing builds several per decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.domain.model import AgentStatus, Channel, Direction, OfferOutcome


@dataclass(slots=True)
class Event:
    tenant_id: str
    at: float


@dataclass(slots=True)
class AgentStatusChanged(Event):
    agent_id: str
    status: AgentStatus
    reason: str
    previous_status: AgentStatus
    previous_since: float


@dataclass(slots=True)
class AgentPresenceChanged(Event):
    """The agent chose another presence while their status stays (busy or wrap_up): it is where they
    go once free. Not a status change, so the status log does not record it."""

    agent_id: str
    presence: AgentStatus
    reason: str


@dataclass(slots=True)
class InteractionCreated(Event):
    interaction_id: str
    channel: Channel
    direction: Direction
    queue_id: str | None
    from_address: str
    to_address: str


@dataclass(slots=True)
class InteractionQueued(Event):
    interaction_id: str
    queue_id: str
    requeued: bool


@dataclass(slots=True)
class InteractionOffered(Event):
    interaction_id: str
    queue_id: str
    agent_id: str
    offer_id: str
    deadline: float


@dataclass(slots=True)
class OfferEnded(Event):
    interaction_id: str
    agent_id: str
    offer_id: str
    outcome: OfferOutcome


@dataclass(slots=True)
class InteractionConnected(Event):
    interaction_id: str
    agent_id: str


@dataclass(slots=True)
class InteractionTransferred(Event):
    interaction_id: str
    agent_id: str
    from_queue_id: str | None
    to_queue_id: str
    to_agent_id: str | None = None  # a transfer to a colleague (offered to them in `to_queue_id`)
    to_address: str | None = None  # a transfer out, to this number: the interaction then ends for the agent


@dataclass(slots=True)
class InteractionWrapUpStarted(Event):
    interaction_id: str
    agent_id: str
    deadline: float
    reason: str


@dataclass(slots=True)
class InteractionCompleted(Event):
    interaction_id: str
    agent_id: str
    disposition: str
    by_timer: bool


@dataclass(slots=True)
class InteractionAbandoned(Event):
    interaction_id: str
    reason: str


@dataclass(slots=True)
class InteractionFailed(Event):
    interaction_id: str
    reason: str
