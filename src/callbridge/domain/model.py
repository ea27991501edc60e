"""Value types and entities of the contact center."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter


class Channel(StrEnum):
    PHONE = "phone"
    CHAT = "chat"
    VOICEMAIL = "voicemail"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AgentStatus(StrEnum):
    """What an agent is shown as, and what reports count time in.

    `logged_out`, `break`, `available` and `working_offline` are chosen by the
    agent (their *presence*); `busy` and `wrap_up` are derived from the
    interactions the agent holds, and give way to the presence again when
    those end.
    """

    LOGGED_OUT = "logged_out"
    BREAK = "break"
    AVAILABLE = "available"
    WORKING_OFFLINE = "working_offline"
    BUSY = "busy"
    WRAP_UP = "wrap_up"


PRESENCES = frozenset({AgentStatus.LOGGED_OUT, AgentStatus.BREAK, AgentStatus.AVAILABLE, AgentStatus.WORKING_OFFLINE})


class BreakReason(StrEnum):
    """Reasons the system puts an agent on break; agents may give their own text too."""

    SIGNED_IN = "signed_in"
    MISSED_OFFER = "missed_offer"
    CONNECTION_LOST = "connection_lost"
    PHONE_NOT_REGISTERED = "phone_not_registered"  # the agent's phone could not ring: no registration


class InteractionState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    WRAP_UP = "wrap_up"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    FAILED = "failed"


FINAL_STATES = frozenset({InteractionState.COMPLETED, InteractionState.ABANDONED, InteractionState.FAILED})


class OfferOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CONNECTION_LOST = "connection_lost"
    AGENT_LEFT = "agent_left"
    CANCELLED = "cancelled"
    PHONE_NOT_REGISTERED = "phone_not_registered"  # nothing could ring: the agent's phone is not registered
    NODE_RESTARTED = "node_restarted"  # expired while the node was down: nobody could have answered it


DEFAULT_CAPACITY: Mapping[Channel, int] = {Channel.PHONE: 1, Channel.CHAT: 3, Channel.VOICEMAIL: 1}


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What an admin configures about an agent."""

    id: str
    email: str
    display_name: str
    roles: frozenset[Role] = frozenset({Role.AGENT})
    skills: Mapping[str, int] = field(default_factory=dict)
    capacity: Mapping[Channel, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    queue_ids: tuple[str, ...] = ()
    enabled: bool = True

    def has_skills(self, required: Mapping[str, int]) -> bool:
        skills = self.skills
        return all(skills.get(name, -1) >= level for name, level in required.items())


@dataclass(frozen=True, slots=True)
class Queue:
    id: str
    name: str
    channel: Channel
    required_skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    service_level_seconds: int = 20
    offer_timeout_seconds: int = 20
    wrap_up_seconds: int = 30
    # whether an agent wrapping up (any interaction) may be offered this queue's work; off, as Amazon
    # Connect and Twilio Flex leave after-contact work alone by default
    offer_during_wrap_up: bool = False
    # the wrap-up's choice of dispositions (empty: the console's general list) and whether one must be chosen
    dispositions: tuple[str, ...] = ()
    disposition_required: bool = False


@dataclass(slots=True)
class Interaction:
    """A customer contact on one channel, from arrival to its final state.

    `enqueued_at` and `sequence` fix the interaction's place in its queue; an
    offer that is rejected or times out puts it back in that same place.
    """

    id: str
    channel: Channel
    direction: Direction
    queue_id: str | None
    created_at: float
    from_address: str = ""
    to_address: str = ""
    case_number: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    priority: int = 0
    wrap_up_seconds: int = 0
    state: InteractionState = InteractionState.QUEUED
    enqueued_at: float = 0.0
    sequence: int = 0
    agent_id: str | None = None
    offer_id: str | None = None
    offer_deadline: float | None = None
    offer_attempts: int = 0
    connected_at: float | None = None
    ended_at: float | None = None
    wrap_up_deadline: float | None = None
    completed_at: float | None = None
    disposition: str = ""
    notes: str = ""
    end_reason: str = ""
    # the colleague a warm transfer's consult on this call is with (ContactCenter's StartConsult), saved with
    # the call so that the node taking the tenant over keeps them busy
    consult_agent_id: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def copy(self) -> Interaction:
        """An independent copy, its data included. Built positionally: `dataclasses.replace` costs
        five times as much, and every changed interaction is copied once per batch."""
        copied = Interaction(*_interaction_values(self))
        copied.data = dict(self.data)
        return copied


_interaction_values = attrgetter(*(f.name for f in fields(Interaction)))  # in the constructor's order
