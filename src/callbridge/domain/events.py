"""Domain events: facts, in the past tense, returned by every change.

They carry plain values only, so the service layer can persist them in the
append-only logs and turn them into wire events after commit. Nobody changes an
event once made; they are not declared frozen only because a frozen dataclass
costs four times as much to build, and routing builds several per decision.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from callbridge.domain.model import AgentStatus, Channel, Direction, OfferOutcome

QUEUE_FIELDS = ("queue_id", "from_queue_id", "to_queue_id")


@dataclass(slots=True)
class Event:
    """An event concerns the interaction, agent and queues its fields name: `interaction_id`, `agent_id`, and
    the queue fields in `QUEUE_FIELDS`. Listeners ask through `about_*` rather than probing attributes."""

    tenant_id: str
    at: float

    @property
    def about_interaction(self) -> str | None:
        """The interaction this event concerns, if any."""
        field = _id_fields(type(self))[0]
        interaction_id: str | None = getattr(self, field) if field else None
        return interaction_id

    @property
    def about_agent(self) -> str | None:
        """The agent this event concerns (the one offered, connected, changing status…), if any."""
        field = _id_fields(type(self))[1]
        agent_id: str | None = getattr(self, field) if field else None
        return agent_id

    @property
    def about_queues(self) -> list[str]:
        """The queues whose figures this event may change (a transfer names two)."""
        return [queue_id for field in _id_fields(type(self))[2] if (queue_id := getattr(self, field))]


_IdFields = tuple[str | None, str | None, tuple[str, ...]]
_ID_FIELDS: dict[type[Event], _IdFields] = {}


def _id_fields(kind: type[Event]) -> _IdFields:
    """The fields naming the interaction, the agent and the queues a kind of event concerns, read once per class."""
    found = _ID_FIELDS.get(kind)
    if found is None:
        names = {field.name for field in dataclasses.fields(kind)}
        found = _ID_FIELDS[kind] = (
            "interaction_id" if "interaction_id" in names else None,
            "agent_id" if "agent_id" in names else None,
            tuple(name for name in QUEUE_FIELDS if name in names),
        )
    return found


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
