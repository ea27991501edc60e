"""What reports count, as plain facts, and how they add up into per-day and per-slot sums (pure).

Two producers feed the same facts: `facts_from_events` (the live path: a batch of domain events,
with the contact center's state at that moment) and `aggregates.facts_from_logs` (a rebuild from
the append-only logs). `Deltas.add` turns facts into additions to `report_agent_days` and
`report_queue_slots`.

Definitions (docs/reports.md):
- time in a status: from the status change that began it to the one that ended it, cut at local midnight;
- offers: offers made to the agent; accepted: offers the agent accepted; missed: offers rejected, timed
  out or lost with the connection (cancelled and agent_left are neither);
- handled: interactions the agent completed, counted on the day of completion; handle time is connected
  to completed (talk plus wrap-up), after-work time is ended to completed;
- a queue is offered an interaction each time it enters the queue (a new interaction or a transfer);
  it is answered when an agent accepts its offer and abandoned when the caller leaves before that; the wait
  runs from entering the queue (a missed offer keeps the place, a transfer starts a new wait);
- answered (or abandoned) within the queue's service-level threshold count "in SL".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.model import AgentStatus, OfferOutcome
from callbridge.reports.calendar import local_day, split_by_day

SLOT_SECONDS = 900
STATUS_COLUMNS = {
    "break": "break_s",
    "available": "available_s",
    "working_offline": "working_offline_s",
    "busy": "busy_s",
    "wrap_up": "wrap_up_s",
}
MISSED = frozenset(
    {
        OfferOutcome.REJECTED.value,
        OfferOutcome.TIMED_OUT.value,
        OfferOutcome.CONNECTION_LOST.value,
        OfferOutcome.PHONE_NOT_REGISTERED.value,
    }
)
HANDLED_COLUMNS = {"phone": "handled_phone", "chat": "handled_chat", "voicemail": "handled_voicemail"}


@dataclass(frozen=True, slots=True)
class StatusSpan:
    agent_id: str
    status: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class SignIn:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class SignOut:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Offered:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferClosed:
    agent_id: str
    at: float
    outcome: str


@dataclass(frozen=True, slots=True)
class Handled:
    agent_id: str
    at: float
    channel: str
    handle_s: float
    after_work_s: float


@dataclass(frozen=True, slots=True)
class QueueEntered:
    queue_id: str
    at: float


@dataclass(frozen=True, slots=True)
class QueueLeft:
    queue_id: str
    at: float
    waited: float
    answered: bool  # False: abandoned
    threshold: float


Fact = StatusSpan | SignIn | SignOut | Offered | OfferClosed | Handled | QueueEntered | QueueLeft


def slot_of(at: float) -> int:
    return int(at // SLOT_SECONDS) * SLOT_SECONDS


@dataclass
class Deltas:
    """Additions to the aggregate tables; `first`/`last` are minimums/maximums, not sums."""

    agent_days: dict[tuple[str, date], dict[str, float]] = field(default_factory=dict)
    first_sign_in: dict[tuple[str, date], float] = field(default_factory=dict)
    last_sign_out: dict[tuple[str, date], float] = field(default_factory=dict)
    queue_slots: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)
    max_wait: dict[tuple[str, int], float] = field(default_factory=dict)
    queues_touched: set[str] = field(default_factory=set)

    def _agent(self, agent_id: str, day: date) -> dict[str, float]:
        return self.agent_days.setdefault((agent_id, day), {})

    def _queue(self, queue_id: str, at: float) -> tuple[tuple[str, int], dict[str, float]]:
        key = (queue_id, slot_of(at))
        self.queues_touched.add(queue_id)
        return key, self.queue_slots.setdefault(key, {})

    def add(self, facts: Iterable[Fact], tz: ZoneInfo) -> Deltas:
        for fact in facts:
            match fact:
                case StatusSpan():
                    column = STATUS_COLUMNS.get(fact.status)
                    if column is not None:
                        for day, seconds in split_by_day(fact.start, fact.end, tz):
                            sums = self._agent(fact.agent_id, day)
                            sums[column] = sums.get(column, 0.0) + seconds
                case SignIn():
                    key = (fact.agent_id, local_day(fact.at, tz))
                    sums = self._agent(*key)
                    sums["sign_ins"] = sums.get("sign_ins", 0.0) + 1
                    self.first_sign_in[key] = min(self.first_sign_in.get(key, fact.at), fact.at)
                case SignOut():
                    key = (fact.agent_id, local_day(fact.at, tz))
                    self._agent(*key)
                    self.last_sign_out[key] = max(self.last_sign_out.get(key, fact.at), fact.at)
                case Offered():
                    sums = self._agent(fact.agent_id, local_day(fact.at, tz))
                    sums["offers"] = sums.get("offers", 0.0) + 1
                case OfferClosed():
                    column = "accepted" if fact.outcome == OfferOutcome.ACCEPTED.value else None
                    column = "missed" if fact.outcome in MISSED else column
                    if column is not None:
                        sums = self._agent(fact.agent_id, local_day(fact.at, tz))
                        sums[column] = sums.get(column, 0.0) + 1
                case Handled():
                    sums = self._agent(fact.agent_id, local_day(fact.at, tz))
                    column = HANDLED_COLUMNS.get(fact.channel)
                    if column is not None:
                        sums[column] = sums.get(column, 0.0) + 1
                    sums["handle_s"] = sums.get("handle_s", 0.0) + fact.handle_s
                    sums["after_work_s"] = sums.get("after_work_s", 0.0) + fact.after_work_s
                case QueueEntered():
                    _, sums = self._queue(fact.queue_id, fact.at)
                    sums["offered"] = sums.get("offered", 0.0) + 1
                case QueueLeft():
                    slot_key, sums = self._queue(fact.queue_id, fact.at)
                    kind = "answer" if fact.answered else "abandon"
                    count = "answered" if fact.answered else "abandoned"
                    sums[count] = sums.get(count, 0.0) + 1
                    if fact.waited <= fact.threshold:
                        sums[f"{count}_in_sl"] = sums.get(f"{count}_in_sl", 0.0) + 1
                    sums[f"{kind}_wait_s"] = sums.get(f"{kind}_wait_s", 0.0) + fact.waited
                    self.max_wait[slot_key] = max(self.max_wait.get(slot_key, 0.0), fact.waited)
        return self


def status_facts(agent_id: str, status: str, at: float, previous_status: str, previous_since: float) -> list[Fact]:
    """The facts of one status change (one row of agent_status_events)."""
    facts: list[Fact] = [StatusSpan(agent_id, previous_status, previous_since, at)]
    if previous_status == AgentStatus.LOGGED_OUT.value and status != AgentStatus.LOGGED_OUT.value:
        facts.append(SignIn(agent_id, at))
    if status == AgentStatus.LOGGED_OUT.value and previous_status != AgentStatus.LOGGED_OUT.value:
        facts.append(SignOut(agent_id, at))
    return facts


def facts_from_events(cc: ContactCenter, events: Iterable[ev.Event]) -> list[Fact]:
    """The facts of one batch of domain events; `cc` still shows the interactions they are about."""
    facts: list[Fact] = []
    for event in events:
        match event:
            case ev.AgentStatusChanged():
                facts.extend(
                    status_facts(
                        event.agent_id,
                        event.status.value,
                        event.at,
                        event.previous_status.value,
                        event.previous_since,
                    )
                )
            case ev.InteractionQueued() if not event.requeued:
                facts.append(QueueEntered(event.queue_id, event.at))
            case ev.InteractionTransferred() if event.to_address is None:  # out: it enters no queue
                facts.append(QueueEntered(event.to_queue_id, event.at))
            case ev.InteractionOffered():
                facts.append(Offered(event.agent_id, event.at))
            case ev.OfferEnded() | ev.InteractionAbandoned():
                answered = isinstance(event, ev.OfferEnded) and event.outcome is OfferOutcome.ACCEPTED
                if isinstance(event, ev.OfferEnded):
                    facts.append(OfferClosed(event.agent_id, event.at, event.outcome.value))
                    if not answered:
                        continue
                # answered = an accepted offer (outbound calls are connected without one)
                interaction = cc.interactions.get(event.interaction_id)
                queue = cc.queues.get(interaction.queue_id or "") if interaction is not None else None
                if interaction is None or queue is None:
                    continue
                waited = max(0.0, event.at - interaction.enqueued_at)
                facts.append(QueueLeft(queue.id, event.at, waited, answered, queue.service_level_seconds))
            case ev.InteractionCompleted():
                interaction = cc.interactions.get(event.interaction_id)
                if interaction is None:
                    continue
                connected = interaction.connected_at if interaction.connected_at is not None else event.at
                ended = interaction.ended_at if interaction.ended_at is not None else event.at
                facts.append(
                    Handled(
                        event.agent_id,
                        event.at,
                        interaction.channel.value,
                        max(0.0, event.at - connected),
                        max(0.0, event.at - ended),
                    )
                )
    return facts
