"""Wire events and views: the typed, strict JSON that browsers and integrations see.

Every event type is listed in docs/events.md. A client builds its state from
the snapshot sent at connection and applies these events in order;
`apply_event` below is the reference implementation of that, and tests check
that `apply_event(old snapshot, events) == new snapshot`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InteractionView(Strict):
    id: str
    channel: str
    direction: str
    state: str
    queue_id: str | None
    from_address: str
    to_address: str
    case_number: str
    data: dict[str, str]
    priority: int
    agent_id: str | None
    offer_id: str | None
    offer_deadline: float | None
    created_at: float
    enqueued_at: float
    connected_at: float | None
    ended_at: float | None
    wrap_up_deadline: float | None
    completed_at: float | None
    disposition: str
    end_reason: str = ""  # why the conversation ended (a placed call's "busy", a failed call's reason), once it has


class AgentView(Strict):
    id: str
    display_name: str
    status: str
    reason: str
    since: float
    interaction_ids: list[str]
    presence: str = ""  # what the agent chose (available, break, working_offline): where they go once free
    presence_reason: str = ""


class QueueView(Strict):
    id: str
    name: str
    channel: str
    waiting: int
    oldest_enqueued_at: float | None
    ready_agents: int
    dispositions: list[str] = Field(
        default_factory=list, description="the wrap-up's dispositions (empty: the console's general list)"
    )
    disposition_required: bool = False


class Snapshot(Strict):
    """What a client knows at connection time.

    Everyone sees the tenant's agents (presence). An agent (`me` set) sees the
    queues they belong to and the interactions they hold; supervisors (`me`
    None) see every queue and every live interaction.
    """

    tenant_id: str
    me: str | None
    agents: dict[str, AgentView]
    queues: dict[str, QueueView]
    interactions: dict[str, InteractionView]


class AgentStatusChangedEvent(Strict):
    type: Literal["agent.status_changed"] = "agent.status_changed"
    agent: AgentView


class AgentsChangedEvent(Strict):
    """Colleagues' presence, digested: every agent whose view changed since the last digest
    (sent at most every `summary_interval_seconds`, so a large tenant is not flooded)."""

    type: Literal["agents.changed"] = "agents.changed"
    agents: list[AgentView]


class InteractionChangedEvent(Strict):
    """An interaction the receiver may see was created, offered, connected, wrapped up or ended.
    `interaction.state` final (completed, abandoned, failed) or no longer offered to the
    receiver means: drop it."""

    type: Literal["interaction.changed"] = "interaction.changed"
    interaction: InteractionView


class OfferEndedEvent(Strict):
    type: Literal["offer.ended"] = "offer.ended"
    offer_id: str
    interaction_id: str
    agent_id: str
    outcome: str


class QueueChangedEvent(Strict):
    type: Literal["queue.changed"] = "queue.changed"
    queue: QueueView


class QueueStatsView(Strict):
    """A queue on the supervisors' wallboard: live figures and today's counters (tenant's local day)."""

    id: str
    name: str
    channel: str
    waiting: int
    oldest_enqueued_at: float | None
    available: int
    busy: int
    wrap_up: int
    on_break: int
    working_offline: int
    day: str
    offered: int
    answered: int
    abandoned: int
    answered_in_sl: int
    abandoned_in_sl: int
    service_level_seconds: int
    service_level: float | None
    service_level_with_abandoned: float | None
    average_wait_seconds: float | None
    longest_wait_seconds: float


class WallboardQueueStatsEvent(Strict):
    """Supervisors only: the wallboard figures of the queues that changed (each replaces the previous)."""

    type: Literal["wallboard.queue_stats"] = "wallboard.queue_stats"
    at: float
    queues: list[QueueStatsView]


WireEvent = (
    AgentStatusChangedEvent
    | AgentsChangedEvent
    | InteractionChangedEvent
    | OfferEndedEvent
    | QueueChangedEvent
    | WallboardQueueStatsEvent
)

FINAL = frozenset({"completed", "abandoned", "failed"})


def apply_event(snapshot: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Applies one wire event to a snapshot (both as JSON-ready dicts); returns the new snapshot."""
    kind = event["type"]
    if kind == "agents.changed":
        for agent in event["agents"]:
            snapshot["agents"][agent["id"]] = agent
    elif kind == "agent.status_changed":
        agent = event["agent"]
        snapshot["agents"][agent["id"]] = agent
    elif kind == "interaction.changed":
        interaction = event["interaction"]
        visible = interaction["state"] not in FINAL and (
            snapshot["me"] is None or interaction["agent_id"] == snapshot["me"]
        )
        if visible:
            snapshot["interactions"][interaction["id"]] = interaction
        else:
            snapshot["interactions"].pop(interaction["id"], None)
    elif kind == "queue.changed":
        queue = event["queue"]
        if snapshot["me"] is None or queue["id"] in snapshot["queues"]:
            snapshot["queues"][queue["id"]] = queue
    return snapshot


# ---------------------------------------------------------------------- chat (docs/channels.md)
# Chat events are not part of the snapshot (apply_event ignores them): a console that (re)connects reads a
# chat's transcript with GET /api/v1/me/chats/{interaction_id}/messages, then applies these.


class ChatMessageEvent(Strict):
    """A chat message was stored. `text` is plain text: render it as text, never as HTML."""

    type: Literal["chat.message"] = "chat.message"
    interaction_id: str
    id: str  # "<interaction_id>:<seq>"
    seq: int
    sender: Literal["customer", "agent"]
    agent_id: str | None
    text: str
    sent_at: float


class ChatTypingEvent(Strict):
    type: Literal["chat.typing"] = "chat.typing"
    interaction_id: str
    sender: Literal["customer", "agent"]
    active: bool


class ChatDeliveredEvent(Strict):
    """`sender`'s messages up to `up_to_seq` have reached the other side."""

    type: Literal["chat.delivered"] = "chat.delivered"
    interaction_id: str
    sender: Literal["customer", "agent"]
    up_to_seq: int
    delivered_at: float


ChatWireEvent = ChatMessageEvent | ChatTypingEvent | ChatDeliveredEvent


# ---------------------------------------------------------------- screen pop (docs/screen-pop-and-auto-log.md)
# Not part of the snapshot (apply_event ignores it): a pop is an instruction to the console, carried out once.


class PopTargetView(Strict):
    """Where the console's CRM host module takes the agent."""

    kind: Literal["record", "search", "new_record", "url"]
    url: str
    object_type: str
    record_id: str
    query: str
    prefill: dict[str, str]


class PopWindowView(Strict):
    """Non-console mode: the pop-up window's size (null: the browser's choice) and whether to reuse one window."""

    width: int | None
    height: int | None
    reuse: bool


class ScreenPopRequestedEvent(Strict):
    """Open a CRM page for this interaction: one match pops the record, several the search results, none a
    prefilled new-record form. `timed_out`: the CRM did not answer in time, so `target` is a search view."""

    type: Literal["screen_pop.requested"] = "screen_pop.requested"
    interaction_id: str
    agent_id: str
    trigger: Literal["offered", "accepted", "completed"]
    target: PopTargetView
    window: PopWindowView
    matches: int
    timed_out: bool
    record_name: str = Field(
        default="", description="the matched record's name when exactly one record matched (the caller's name)"
    )
