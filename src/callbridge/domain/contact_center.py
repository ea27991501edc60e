"""One tenant's contact center: agents, queues, interactions and offers.

`ContactCenter.handle(command, now)` is the only way state changes. It either
raises a DomainError and changes nothing, or applies the command, routes
whatever became routable, and returns the domain events in the order they
happened. After every command the routing invariant holds: no agent who is
ready for a queue coexists with an interaction waiting in it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from callbridge.domain import commands as cmd
from callbridge.domain.agent_state import AgentState, check_presence_change
from callbridge.domain.errors import InvalidTransition, NoCapacity, NotFound
from callbridge.domain.events import (
    AgentPresenceChanged,
    AgentStatusChanged,
    Event,
    InteractionAbandoned,
    InteractionCompleted,
    InteractionConnected,
    InteractionCreated,
    InteractionFailed,
    InteractionOffered,
    InteractionQueued,
    InteractionTransferred,
    InteractionWrapUpStarted,
    OfferEnded,
)
from callbridge.domain.model import (
    AgentProfile,
    AgentStatus,
    BreakReason,
    Channel,
    Direction,
    Interaction,
    InteractionState,
    OfferOutcome,
    Queue,
)
from callbridge.domain.routing import QueueIndexes, ready_entry
from callbridge.domain.timers import Timer, Timers

_HELD_STATES = frozenset({InteractionState.OFFERED, InteractionState.CONNECTED, InteractionState.WRAP_UP})
_OFFER_TIMER = "offer"
_WRAP_UP_TIMER = "wrap_up"
_RESTORED_TIMERS = "restored"
# Reading an enum member as a class attribute costs ~70 ns on Python 3.11 (`EnumType.__getattr__`
# sends every attribute read down the slow path), and routing reads these on every decision.
_QUEUED = InteractionState.QUEUED
_OFFERED = InteractionState.OFFERED
_CONNECTED = InteractionState.CONNECTED
_IN_WRAP_UP = InteractionState.WRAP_UP
_COMPLETED = InteractionState.COMPLETED
_AVAILABLE = AgentStatus.AVAILABLE
_PHONE = Channel.PHONE
_BUSY = AgentStatus.BUSY
_WRAP_UP = AgentStatus.WRAP_UP
_STATUSES_WITH_REASON = frozenset({AgentStatus.BREAK, AgentStatus.LOGGED_OUT})
_INBOUND = Direction.INBOUND
_ACCEPTED = OfferOutcome.ACCEPTED


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    """An agent's live state as plain values, for the store and the API."""

    agent_id: str
    presence: AgentStatus
    reason: str
    status: AgentStatus
    status_reason: str
    status_since: float
    idle_since: float
    interaction_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    queue_id: str
    waiting: int
    oldest_enqueued_at: float | None
    ready_agents: int


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed since the last call of `take_changes`, for the store."""

    interactions: list[Interaction]
    agents: list[AgentSnapshot]


class ContactCenter:
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.agents: dict[str, AgentState] = {}
        self.queues: dict[str, Queue] = {}
        self.interactions: dict[str, Interaction] = {}
        self._members: dict[str, set[str]] = {}
        self._indexes: dict[str, QueueIndexes] = {}
        self._timers = Timers()
        self._sequence = 0
        self._events: list[Event] = []
        self._dirty_interactions: set[str] = set()
        self._dirty_agents: set[str] = set()
        self.decisions = 0
        self._handlers: dict[type[cmd.Command], Callable[[Any, float], None]] = {
            cmd.SignIn: self._sign_in,
            cmd.SignOut: self._sign_out,
            cmd.SetPresence: self._set_presence,
            cmd.ReportConnectionLost: self._connection_lost,
            cmd.SubmitInteraction: self._submit,
            cmd.StartOutbound: self._start_outbound,
            cmd.AcceptOffer: self._accept,
            cmd.RejectOffer: self._reject,
            cmd.MissOffer: self._miss,
            cmd.EndInteraction: self._end,
            cmd.SaveWrapUp: self._save_wrap_up,
            cmd.CompleteInteraction: self._complete,
            cmd.TransferToQueue: self._transfer,
            cmd.TransferToAgent: self._transfer_to_agent,
            cmd.TransferOut: self._transfer_out,
            cmd.StartConsult: self._start_consult,
            cmd.EndConsult: self._end_consult,
            cmd.FailInteraction: self._fail,
            cmd.Tick: self._tick,
        }

    # ------------------------------------------------------------------ commands

    def handle(self, command: cmd.Command, now: float) -> list[Event]:
        """Applies one command at time `now`; returns its events or raises DomainError."""
        self._events = []
        self._handlers[type(command)](command, now)
        return self._events

    def next_deadline(self) -> float | None:
        """When the next offer or wrap-up expires, so the caller knows when to send Tick."""
        timers = self._timers
        while (timer := timers.first()) is not None:
            if self._timer_is_live(*timer):
                return timer[0]
            timers.pop_first()
        return None

    def _sign_in(self, c: cmd.SignIn, now: float) -> None:
        agent = self._agent(c.agent_id)
        if not agent.profile.enabled:
            raise InvalidTransition(f"agent {agent.id!r} is disabled: ask an admin to enable the account")
        if agent.presence is AgentStatus.LOGGED_OUT:
            agent.presence = AgentStatus.BREAK
            agent.reason = BreakReason.SIGNED_IN.value
            self._touch(agent, now)

    def _sign_out(self, c: cmd.SignOut, now: float) -> None:
        agent = self._agent(c.agent_id)
        busy = [iid for iid in agent.held_interaction_ids() if self.interactions[iid].state is not _OFFERED]
        busy += sorted(agent.consulted_on)
        if busy:
            raise InvalidTransition(
                f"agent {agent.id!r} still handles {len(busy)} interaction(s): complete them before signing out"
            )
        if agent.presence is not AgentStatus.LOGGED_OUT:
            self._leave(agent, AgentStatus.LOGGED_OUT, "", OfferOutcome.AGENT_LEFT, now)

    def _set_presence(self, c: cmd.SetPresence, now: float) -> None:
        agent = self._agent(c.agent_id)
        presence = AgentStatus(c.presence)
        check_presence_change(agent, presence)
        reason = c.reason if presence is AgentStatus.BREAK else ""
        if agent.presence is presence and agent.reason == reason:
            if agent.held_back:  # choosing Available again ends a hold-back after a missed offer
                agent.held_back = False
                self._touch(agent, now)
                self._route_agent(agent, now)
            return
        agent.held_back = False
        if presence is _AVAILABLE:
            status, status_reason = agent.status, agent.status_reason
            agent.presence = presence
            agent.reason = ""
            agent.idle_since = now
            self._touch(agent, now)
            self._announce_presence(agent, status, status_reason, now)
            self._route_agent(agent, now)
        else:
            self._leave(agent, presence, reason, OfferOutcome.AGENT_LEFT, now)

    def _connection_lost(self, c: cmd.ReportConnectionLost, now: float) -> None:
        agent = self._agent(c.agent_id)
        if agent.presence is not AgentStatus.LOGGED_OUT:
            self._leave(
                agent,
                AgentStatus.BREAK,
                BreakReason.CONNECTION_LOST.value,
                OfferOutcome.CONNECTION_LOST,
                now,
            )

    def _submit(self, c: cmd.SubmitInteraction, now: float) -> None:
        queue = self._queue(c.queue_id)
        if c.channel is not queue.channel:
            raise InvalidTransition(f"queue {queue.id!r} takes {queue.channel} interactions, not {c.channel}")
        self._check_new_interaction_id(c.interaction_id)
        self._sequence += 1
        interaction = Interaction(
            id=c.interaction_id,
            channel=queue.channel,
            direction=_INBOUND,
            queue_id=queue.id,
            created_at=now,
            from_address=c.from_address,
            to_address=c.to_address,
            case_number=c.case_number,
            data=dict(c.data),
            priority=queue.priority if c.priority is None else c.priority,
            wrap_up_seconds=queue.wrap_up_seconds,
            enqueued_at=now,
            sequence=self._sequence,
        )
        self.interactions[interaction.id] = interaction
        self._dirty_interactions.add(interaction.id)
        self._events.append(
            InteractionCreated(
                self.tenant_id,
                now,
                interaction.id,
                interaction.channel,
                interaction.direction,
                queue.id,
                interaction.from_address,
                interaction.to_address,
            )
        )
        self._events.append(InteractionQueued(self.tenant_id, now, interaction.id, queue.id, False))
        indexes = self._indexes[queue.id]
        agent = indexes.ready.pop_best(queue)
        if agent is None:
            indexes.waiting.push(interaction)
        else:
            self._offer(interaction, agent, queue, now)

    def _start_outbound(self, c: cmd.StartOutbound, now: float) -> None:
        agent = self._agent(c.agent_id)
        if agent.presence is AgentStatus.LOGGED_OUT:
            raise InvalidTransition(f"agent {agent.id!r} is signed out: sign in first")
        if c.queue_id is not None:
            self._queue(c.queue_id)
        if agent.free_capacity(Channel.PHONE) <= 0:
            raise NoCapacity(f"agent {agent.id!r} is already on a call or being offered one")
        self._check_new_interaction_id(c.interaction_id)
        self._sequence += 1
        interaction = Interaction(
            id=c.interaction_id,
            channel=Channel.PHONE,
            direction=Direction.OUTBOUND,
            queue_id=c.queue_id,
            created_at=now,
            from_address=c.from_address,
            to_address=c.to_address,
            data=dict(c.data),
            wrap_up_seconds=c.wrap_up_seconds,
            enqueued_at=now,
            sequence=self._sequence,
            state=_CONNECTED,
            agent_id=agent.id,
            connected_at=now,
        )
        self.interactions[interaction.id] = interaction
        self._dirty_interactions.add(interaction.id)
        agent.holding[Channel.PHONE].add(interaction.id)
        agent.count_held(_CONNECTED, 1)
        self._events.append(
            InteractionCreated(
                self.tenant_id,
                now,
                interaction.id,
                interaction.channel,
                interaction.direction,
                c.queue_id,
                interaction.from_address,
                interaction.to_address,
            )
        )
        self._events.append(InteractionConnected(self.tenant_id, now, interaction.id, agent.id))
        self._touch(agent, now)

    def _accept(self, c: cmd.AcceptOffer, now: float) -> None:
        interaction, agent = self._pending_offer(c.agent_id, c.interaction_id, now)
        offer_id = interaction.offer_id or ""
        agent.hold_state(interaction, _CONNECTED)
        interaction.connected_at = now
        interaction.offer_deadline = None
        self._dirty_interactions.add(interaction.id)
        self._events.append(OfferEnded(self.tenant_id, now, interaction.id, agent.id, offer_id, _ACCEPTED))
        self._events.append(InteractionConnected(self.tenant_id, now, interaction.id, agent.id))
        self._touch(agent, now, reindex=False)

    def _reject(self, c: cmd.RejectOffer, now: float) -> None:
        interaction, agent = self._pending_offer(c.agent_id, c.interaction_id, now)
        self._missed(interaction, agent, OfferOutcome.REJECTED, now)

    def _miss(self, c: cmd.MissOffer, now: float) -> None:
        interaction, agent = self._pending_offer(c.agent_id, c.interaction_id, now)
        if c.phone_registered:
            self._missed(interaction, agent, OfferOutcome.TIMED_OUT, now)
        else:
            reason = BreakReason.PHONE_NOT_REGISTERED
            self._missed(interaction, agent, OfferOutcome.PHONE_NOT_REGISTERED, now, reason.value)

    def _end(self, c: cmd.EndInteraction, now: float) -> None:
        interaction = self._interaction(c.interaction_id)
        state = interaction.state
        if state is _QUEUED:
            self._indexes[interaction.queue_id or ""].waiting.discard()
            self._finish(interaction, InteractionState.ABANDONED, now)
            self._events.append(InteractionAbandoned(self.tenant_id, now, interaction.id, c.reason))
            self._compact_waiting(interaction.queue_id or "")
        elif state is _OFFERED:
            agent = self.agents[interaction.agent_id or ""]
            self._events.append(
                OfferEnded(
                    self.tenant_id,
                    now,
                    interaction.id,
                    agent.id,
                    interaction.offer_id or "",
                    OfferOutcome.CANCELLED,
                )
            )
            agent.release(interaction)
            self._finish(interaction, InteractionState.ABANDONED, now)
            self._events.append(InteractionAbandoned(self.tenant_id, now, interaction.id, c.reason))
            self._freed(agent, now)
        elif state is _CONNECTED:
            self._release_consult(interaction.id, now)
            agent = self.agents[interaction.agent_id or ""]
            interaction.ended_at = now
            interaction.end_reason = c.reason
            if interaction.wrap_up_seconds <= 0:
                self._complete_held(
                    interaction, agent, interaction.disposition, interaction.notes, by_timer=True, now=now
                )
                return
            agent.hold_state(interaction, _IN_WRAP_UP)
            deadline = now + interaction.wrap_up_seconds
            interaction.wrap_up_deadline = deadline
            self._timers.add(interaction.wrap_up_seconds, (deadline, _WRAP_UP_TIMER, interaction.id, repr(deadline)))
            self._dirty_interactions.add(interaction.id)
            self._events.append(
                InteractionWrapUpStarted(self.tenant_id, now, interaction.id, agent.id, deadline, c.reason)
            )
            self._touch(agent, now)
        else:
            raise InvalidTransition(f"interaction {interaction.id!r} has already ended ({state})")

    def _save_wrap_up(self, c: cmd.SaveWrapUp, now: float) -> None:
        interaction = self._interaction(c.interaction_id)
        if interaction.state not in (_CONNECTED, _IN_WRAP_UP):
            raise InvalidTransition(
                f"interaction {interaction.id!r} is {interaction.state}: notes are kept until it is completed"
            )
        if interaction.agent_id != c.agent_id:
            raise InvalidTransition(f"interaction {interaction.id!r} is not handled by agent {c.agent_id!r}")
        if interaction.disposition != c.disposition or interaction.notes != c.notes:
            interaction.disposition = c.disposition
            interaction.notes = c.notes
            self._dirty_interactions.add(interaction.id)

    def _complete(self, c: cmd.CompleteInteraction, now: float) -> None:
        interaction = self._interaction(c.interaction_id)
        if interaction.state not in (_CONNECTED, _IN_WRAP_UP):
            raise InvalidTransition(
                f"interaction {interaction.id!r} is {interaction.state}: only a connected interaction "
                "or one in wrap-up can be completed"
            )
        if interaction.agent_id != c.agent_id:
            raise InvalidTransition(f"interaction {interaction.id!r} is not handled by agent {c.agent_id!r}")
        agent = self.agents[c.agent_id]
        if interaction.ended_at is None:
            interaction.ended_at = now
            interaction.end_reason = "completed_by_agent"
        self._complete_held(interaction, agent, c.disposition, c.notes, by_timer=False, now=now)

    def _transferable(self, interaction: Interaction, agent_id: str) -> None:
        if interaction.state is not _CONNECTED or interaction.agent_id != agent_id:
            raise InvalidTransition(
                f"interaction {interaction.id!r} is {interaction.state}, not connected to agent {agent_id!r}: "
                "only a conversation in progress can be transferred"
            )

    def _transfer(self, c: cmd.TransferToQueue, now: float) -> None:
        interaction = self._interaction(c.interaction_id)
        target = self._queue(c.queue_id)
        self._transferable(interaction, c.agent_id)
        if target.channel is not interaction.channel:
            raise InvalidTransition(
                f"queue {target.id!r} takes {target.channel} interactions, not {interaction.channel}"
            )
        agent = self.agents[c.agent_id]
        self._release_consult(interaction.id, now)
        agent.release(interaction)
        previous_queue = interaction.queue_id
        self._sequence += 1
        interaction.queue_id = target.id
        interaction.state = _QUEUED
        interaction.agent_id = None
        interaction.offer_id = None
        interaction.offer_deadline = None
        interaction.connected_at = None
        interaction.priority = target.priority
        interaction.wrap_up_seconds = target.wrap_up_seconds
        interaction.enqueued_at = now
        interaction.sequence = self._sequence
        self._dirty_interactions.add(interaction.id)
        self._events.append(
            InteractionTransferred(self.tenant_id, now, interaction.id, agent.id, previous_queue, target.id)
        )
        self._events.append(InteractionQueued(self.tenant_id, now, interaction.id, target.id, True))
        self._indexes[target.id].waiting.push(interaction)
        agent.idle_since = now  # just freed, like after completing an interaction
        self._touch(agent, now)
        # the agent may now be ready for queues where better heads wait than the transferred one
        self._drain_queues((target.id, *agent.eligible_queue_ids), now)

    def _transfer_to_agent(self, c: cmd.TransferToAgent, now: float) -> None:
        interaction = self._interaction(c.interaction_id)
        self._transferable(interaction, c.agent_id)
        target = self._agent(c.target_agent_id)
        if target.id == c.agent_id:
            raise InvalidTransition(f"interaction {interaction.id!r} is already with agent {target.id!r}")
        queue_id = interaction.queue_id
        queue = self.queues.get(queue_id or "")
        if queue is None:
            raise InvalidTransition(
                f"interaction {interaction.id!r} has no queue to wait in if agent {target.id!r} does not answer: "
                "transfer it to a queue"
            )
        # the colleague consulted on this very call takes it: their consult's place becomes the offer's
        consulted = interaction.id in target.consulted_on
        target.consulted_on.discard(interaction.id)
        if not target.is_ready_for(interaction.channel):
            if consulted:
                target.consulted_on.add(interaction.id)  # refused: nothing changes
            raise InvalidTransition(
                f"agent {target.id!r} cannot take a {interaction.channel} interaction now ({target.status})"
            )
        if consulted:
            interaction.consult_agent_id = None
        else:
            self._release_consult(interaction.id, now)  # a blind transfer to someone else ends a consult
        agent = self.agents[c.agent_id]
        agent.release(interaction)
        self._sequence += 1
        interaction.state = _QUEUED
        interaction.agent_id = None
        interaction.offer_id = None
        interaction.offer_deadline = None
        interaction.connected_at = None
        interaction.enqueued_at = now
        interaction.sequence = self._sequence
        self._dirty_interactions.add(interaction.id)
        self._events.append(
            InteractionTransferred(self.tenant_id, now, interaction.id, agent.id, queue.id, queue.id, target.id)
        )
        self._events.append(InteractionQueued(self.tenant_id, now, interaction.id, queue.id, True))
        self._offer(interaction, target, queue, now)
        agent.idle_since = now
        self._touch(agent, now)
        self._drain_queues(agent.eligible_queue_ids, now)

    def _transfer_out(self, c: cmd.TransferOut, now: float) -> None:
        interaction = self._interaction(c.interaction_id)
        self._transferable(interaction, c.agent_id)
        queue_id = interaction.queue_id
        self._events.append(
            InteractionTransferred(
                self.tenant_id, now, interaction.id, c.agent_id, queue_id, queue_id or "", to_address=c.to_address
            )
        )
        self._end(cmd.EndInteraction(interaction.id, f"transferred to {c.to_address}"), now)

    def _start_consult(self, c: cmd.StartConsult, now: float) -> None:
        interaction = self._interaction(c.interaction_id)
        if interaction.state is not _CONNECTED or interaction.agent_id != c.agent_id:
            raise InvalidTransition(
                f"interaction {interaction.id!r} is {interaction.state}, not connected to agent {c.agent_id!r}: "
                "only a conversation in progress can be transferred"
            )
        if interaction.channel is not _PHONE:
            raise InvalidTransition(
                f"interaction {interaction.id!r} is a {interaction.channel}: only calls have consults"
            )
        if interaction.consult_agent_id is not None:
            raise InvalidTransition(
                f"interaction {interaction.id!r} is already in a consult: complete or cancel it first"
            )
        target = self._agent(c.target_agent_id)
        if target.id == c.agent_id:
            raise InvalidTransition("you cannot consult yourself")
        if target.presence is AgentStatus.LOGGED_OUT:
            raise InvalidTransition(f"agent {target.id!r} is signed out")
        # wrapping up another call is no reason to refuse (they can talk); being on one, or rung for one, is
        interactions = self.interactions
        if target.consulted_on or any(interactions[iid].state is not _IN_WRAP_UP for iid in target.holding[_PHONE]):
            raise NoCapacity(f"agent {target.id!r} is on a call or being offered one")
        # kept on the call (saved with it), so that a node taking the tenant over keeps the colleague busy
        interaction.consult_agent_id = target.id
        self._dirty_interactions.add(interaction.id)
        target.consulted_on.add(interaction.id)
        self._touch(target, now)  # busy; their ready entries go stale

    def _end_consult(self, c: cmd.EndConsult, now: float) -> None:
        interaction = self.interactions.get(c.interaction_id)
        if interaction is None or interaction.consult_agent_id != c.target_agent_id:
            raise InvalidTransition(f"interaction {c.interaction_id!r} has no consult with agent {c.target_agent_id!r}")
        self._release_consult(c.interaction_id, now)

    def _release_consult(self, interaction_id: str, now: float) -> None:
        """The consult on this call (if any) is over: the colleague is free again, and routed."""
        interaction = self.interactions.get(interaction_id)
        if interaction is None or interaction.consult_agent_id is None:
            return
        target = self.agents.get(interaction.consult_agent_id)
        interaction.consult_agent_id = None
        self._dirty_interactions.add(interaction_id)
        if target is None or interaction_id not in target.consulted_on:
            return
        target.consulted_on.discard(interaction_id)
        target.idle_since = now  # they were talking until now, like after completing an interaction
        self._freed(target, now)

    def _fail(self, c: cmd.FailInteraction, now: float) -> None:
        interaction = self._interaction(c.interaction_id)
        if interaction.is_final:
            raise InvalidTransition(f"interaction {interaction.id!r} has already ended ({interaction.state})")
        self._release_consult(interaction.id, now)
        agent = self.agents.get(interaction.agent_id or "")
        if interaction.state is _QUEUED:
            self._indexes[interaction.queue_id or ""].waiting.discard()
        elif agent is not None:
            if interaction.state is _OFFERED:
                offer_id = interaction.offer_id or ""
                self._events.append(
                    OfferEnded(self.tenant_id, now, interaction.id, agent.id, offer_id, OfferOutcome.CANCELLED)
                )
            agent.release(interaction)
        interaction.end_reason = c.reason  # kept with the interaction, as a conversation's ending is
        self._finish(interaction, InteractionState.FAILED, now)
        self._events.append(InteractionFailed(self.tenant_id, now, interaction.id, c.reason))
        if agent is not None:
            self._freed(agent, now)

    def _tick(self, _c: cmd.Tick, now: float) -> None:
        self._expire(now, restarted=False)

    def _expire(self, now: float, *, restarted: bool) -> None:
        """Ends offers and wrap-ups that are due. `restarted`: they fell due while the node was down, when no
        agent could answer an offer: it goes back to its place in the queue, and its agent is not benched."""
        pop_due = self._timers.pop_due
        interactions = self.interactions
        while (timer := pop_due(now)) is not None:
            deadline, kind, interaction_id, token = timer
            interaction = interactions.get(interaction_id)
            # most offer timers belong to offers answered long ago: dropped here without the full check
            if interaction is None or (kind == _OFFER_TIMER and interaction.state is not _OFFERED):
                continue
            if not self._timer_is_live(deadline, kind, interaction_id, token):
                continue
            agent = self.agents[interaction.agent_id or ""]
            if kind == _OFFER_TIMER and restarted:
                self._requeue(interaction, agent, OfferOutcome.NODE_RESTARTED, now)
                self._touch(agent, now)
            elif kind == _OFFER_TIMER:
                self._missed(interaction, agent, OfferOutcome.TIMED_OUT, now)
            else:  # the wrap-up timer: what the agent saved so far is the log's disposition and notes
                self._complete_held(
                    interaction, agent, interaction.disposition, interaction.notes, by_timer=True, now=now
                )

    # ------------------------------------------------------------- configuration

    def upsert_queue(self, queue: Queue, now: float) -> list[Event]:
        """Adds or changes a queue; members who now qualify are routed at once."""
        self._events = []
        existing = self.queues.get(queue.id)
        if existing is not None and existing.channel is not queue.channel and self._active_in_queue(queue.id):
            raise InvalidTransition(
                f"queue {queue.id!r} still holds {existing.channel} interactions: its channel cannot change"
            )
        self.queues[queue.id] = queue
        indexes = self._indexes.get(queue.id)
        if indexes is None:
            self._indexes[queue.id] = QueueIndexes(queue, self.interactions)
        else:
            indexes.queue = queue
        for agent_id in list(self._members.get(queue.id, ())):
            agent = self.agents[agent_id]
            self._refresh_eligibility(agent)
            self._touch(agent, now)
        self._drain_queue(queue.id, now)
        return self._events

    def remove_queue(self, queue_id: str, now: float) -> list[Event]:
        self._events = []
        self._queue(queue_id)
        if self._active_in_queue(queue_id):
            raise InvalidTransition(f"queue {queue_id!r} still holds interactions: wait until they end")
        del self.queues[queue_id]
        del self._indexes[queue_id]
        for agent_id in self._members.get(queue_id, set()):
            agent = self.agents[agent_id]
            self._refresh_eligibility(agent)
            self._touch(agent, now)
        return self._events

    def upsert_agent(self, profile: AgentProfile, now: float) -> list[Event]:
        """Adds or changes an agent; a disabled agent is signed out (calls in progress go on)."""
        self._events = []
        agent = self.agents.get(profile.id)
        if agent is None:
            agent = self.agents[profile.id] = AgentState(profile, now)
            self._dirty_agents.add(agent.id)
        else:
            for queue_id in agent.profile.queue_ids:
                self._members.get(queue_id, set()).discard(agent.id)
            agent.profile = profile
        for queue_id in profile.queue_ids:
            self._members.setdefault(queue_id, set()).add(agent.id)
        self._refresh_eligibility(agent)
        if not profile.enabled and agent.presence is not AgentStatus.LOGGED_OUT:
            self._leave(agent, AgentStatus.LOGGED_OUT, "disabled", OfferOutcome.AGENT_LEFT, now)
        else:
            self._touch(agent, now)
            self._route_agent(agent, now)
        return self._events

    def remove_agent(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        if agent.presence is not AgentStatus.LOGGED_OUT or agent.held_interaction_ids():
            raise InvalidTransition(f"agent {agent_id!r} is signed in: sign them out or disable them first")
        for queue_id in agent.profile.queue_ids:
            self._members.get(queue_id, set()).discard(agent_id)
        for indexes in agent.counted_ready_in:
            indexes.ready_count -= 1
        agent.counted_ready_in = ()
        del self.agents[agent_id]
        for indexes in self._indexes.values():
            indexes.ready.forget(agent)

    # ----------------------------------------------------------------- restoring

    def restore(
        self,
        agents: Iterable[tuple[AgentProfile, AgentSnapshot]],
        interactions: Iterable[Interaction],
        now: float,
    ) -> list[Event]:
        """Rebuilds the state saved by the store (after a restart), then handles what expired meanwhile."""
        saved_agents = list(agents)
        for profile, _ in saved_agents:
            self.upsert_agent(profile, now)
        for profile, snapshot in saved_agents:
            agent = self.agents[profile.id]
            agent.presence = snapshot.presence
            agent.reason = snapshot.reason
            agent.status = snapshot.status
            agent.status_reason = snapshot.status_reason
            agent.status_since = snapshot.status_since
            agent.idle_since = snapshot.idle_since
        timers: list[Timer] = []
        stale: list[str] = []
        for interaction in interactions:
            self.interactions[interaction.id] = interaction
            self._sequence = max(self._sequence, interaction.sequence)
            if interaction.state is _QUEUED and interaction.queue_id in self._indexes:
                self._indexes[interaction.queue_id].waiting.push(interaction)
            elif interaction.state in _HELD_STATES and interaction.agent_id in self.agents:
                holder = self.agents[interaction.agent_id]
                if interaction.id not in holder.holding[interaction.channel]:
                    holder.holding[interaction.channel].add(interaction.id)
                    holder.count_held(interaction.state, 1)
                if interaction.state is _OFFERED and interaction.offer_deadline is not None:
                    timers.append(
                        (interaction.offer_deadline, _OFFER_TIMER, interaction.id, interaction.offer_id or "")
                    )
                elif interaction.state is _IN_WRAP_UP and interaction.wrap_up_deadline is not None:
                    deadline = interaction.wrap_up_deadline
                    timers.append((deadline, _WRAP_UP_TIMER, interaction.id, repr(deadline)))
            # a consult in progress keeps its colleague busy (their phone place); it ends with EndConsult, a
            # transfer, or the call's end (a call whose carrier is gone fails, which ends it)
            consulted = self.agents.get(interaction.consult_agent_id or "")
            if consulted is not None and interaction.state is _CONNECTED:
                consulted.consulted_on.add(interaction.id)
            elif interaction.consult_agent_id is not None:
                interaction.consult_agent_id = None  # its colleague was removed, or the call is no longer talking
                stale.append(interaction.id)
        # their durations are not saved: in one FIFO of their own, added in order
        for timer in sorted(timers):
            self._timers.add(_RESTORED_TIMERS, timer)
        self._dirty_interactions.clear()
        self._dirty_interactions.update(stale)
        self._dirty_agents.clear()
        self._events = []
        for agent in self.agents.values():
            agent.version += 1
            self._count_ready(agent)
            self._push_ready(agent)
        self._expire(now, restarted=True)
        self._drain_queues(self.queues, now)
        return self._events

    # ------------------------------------------------------------------- reading

    def take_changes(self) -> Changes:
        """Copies of what changed since the last call; forgets interactions that have ended."""
        interactions = []
        for interaction_id in self._dirty_interactions:
            interaction = self.interactions.get(interaction_id)
            if interaction is None:
                continue
            interactions.append(interaction.copy())
            if interaction.is_final:
                del self.interactions[interaction_id]
        agents = [self.agent_snapshot(agent_id) for agent_id in self._dirty_agents if agent_id in self.agents]
        self._dirty_interactions = set()
        self._dirty_agents = set()
        return Changes(interactions, agents)

    def agent_snapshot(self, agent_id: str) -> AgentSnapshot:
        agent = self._agent(agent_id)
        return AgentSnapshot(
            agent_id=agent.id,
            presence=agent.presence,
            reason=agent.reason,
            status=agent.status,
            status_reason=agent.status_reason,
            status_since=agent.status_since,
            idle_since=agent.idle_since,
            interaction_ids=tuple(sorted(agent.held_interaction_ids())),
        )

    def queue_snapshot(self, queue_id: str) -> QueueSnapshot:
        """The queue's summary, kept up to date as things change: O(1) amortised, whatever waits in it."""
        self._queue(queue_id)
        indexes = self._indexes[queue_id]
        return QueueSnapshot(
            queue_id=queue_id,
            waiting=indexes.waiting.live,
            oldest_enqueued_at=indexes.waiting.oldest(),
            ready_agents=indexes.ready_count,
        )

    def waiting_in(self, queue_id: str) -> list[Interaction]:
        """The interactions waiting in a queue, in the order they will be offered."""
        waiting = [i for i in self.interactions.values() if i.queue_id == queue_id and i.state is _QUEUED]
        return sorted(waiting, key=lambda i: (-i.priority, i.enqueued_at, i.sequence))

    def queue_members(self, queue_id: str) -> frozenset[str]:
        """The agents whose profile lists this queue (whether or not they have its skills)."""
        return frozenset(self._members.get(queue_id, ()))

    # ------------------------------------------------------------------ internals

    def _agent(self, agent_id: str) -> AgentState:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise NotFound("agent", agent_id)
        return agent

    def _queue(self, queue_id: str) -> Queue:
        queue = self.queues.get(queue_id)
        if queue is None:
            raise NotFound("queue", queue_id)
        return queue

    def _interaction(self, interaction_id: str) -> Interaction:
        interaction = self.interactions.get(interaction_id)
        if interaction is None:
            raise NotFound("interaction", interaction_id)
        return interaction

    def _check_new_interaction_id(self, interaction_id: str) -> None:
        if interaction_id in self.interactions:
            raise InvalidTransition(f"interaction {interaction_id!r} already exists")

    def _pending_offer(self, agent_id: str, interaction_id: str, now: float) -> tuple[Interaction, AgentState]:
        agent = self._agent(agent_id)
        interaction = self._interaction(interaction_id)
        if interaction.state is not _OFFERED or interaction.agent_id != agent_id:
            raise InvalidTransition(
                f"interaction {interaction_id!r} is not offered to agent {agent_id!r} "
                "(the offer may have expired or been withdrawn)"
            )
        if interaction.offer_deadline is not None and now >= interaction.offer_deadline:
            raise InvalidTransition(f"the offer of interaction {interaction_id!r} has expired")
        return interaction, agent

    def _active_in_queue(self, queue_id: str) -> bool:
        return any(i.queue_id == queue_id and not i.is_final for i in self.interactions.values())

    def _refresh_eligibility(self, agent: AgentState) -> None:
        profile = agent.profile
        agent.eligible_queue_ids = tuple(
            queue_id
            for queue_id in profile.queue_ids
            if (queue := self.queues.get(queue_id)) is not None and profile.has_skills(queue.required_skills)
        )
        by_channel: dict[Channel, list[QueueIndexes]] = {}
        for queue_id in agent.eligible_queue_ids:
            by_channel.setdefault(self.queues[queue_id].channel, []).append(self._indexes[queue_id])
        agent.indexes_by_channel = tuple((channel, tuple(indexes)) for channel, indexes in by_channel.items())

    def _timer_is_live(self, deadline: float, kind: str, interaction_id: str, token: str) -> bool:
        interaction = self.interactions.get(interaction_id)
        if interaction is None:
            return False
        if kind == _OFFER_TIMER:
            # offer ids restart at ".1" when an id is reused after the old interaction was forgotten
            return (
                interaction.state is _OFFERED
                and interaction.offer_id == token
                and interaction.offer_deadline == deadline
            )
        return interaction.state is _IN_WRAP_UP and repr(interaction.wrap_up_deadline) == token

    def _touch(self, agent: AgentState, now: float, *, reindex: bool = True) -> None:
        """Re-derives the agent's status (emitting a change) and re-indexes it for routing.

        `reindex=False` is for changes that leave everything routing looks at
        (presence, capacity used, idle time, queues) as it was, such as an
        accepted offer: the agent's index entries then stay valid.
        """
        # busy while connected to an interaction, wrap_up while only wrapping up, else the presence
        if agent.connected or agent.consulted_on:
            status = _BUSY
        elif agent.wrapping:
            status = _WRAP_UP
        else:
            status = agent.presence
        reason = agent.reason if status in _STATUSES_WITH_REASON else ""
        if status is not agent.status or reason != agent.status_reason:
            self._events.append(
                AgentStatusChanged(self.tenant_id, now, agent.id, status, reason, agent.status, agent.status_since)
            )
            agent.status = status
            agent.status_reason = reason
            agent.status_since = now
        self._dirty_agents.add(agent.id)
        self._count_ready(agent)
        if reindex:
            agent.version += 1
            self._push_ready(agent)

    def _count_ready(self, agent: AgentState) -> None:
        """Moves the agent's contribution to the queues' ready counts to what it is now (O(their queues))."""
        if agent.presence is _AVAILABLE and agent.profile.enabled:
            wrapping = agent.wrapping > 0
            now_in = tuple(
                indexes
                for channel, indexes_of_queues in agent.indexes_by_channel
                if agent.is_ready_for(channel)
                for indexes in indexes_of_queues
                if not wrapping or indexes.queue.offer_during_wrap_up
            )
        else:
            now_in = ()
        before = agent.counted_ready_in
        if now_in == before:
            return
        for indexes in before:
            indexes.ready_count -= 1
        for indexes in now_in:
            indexes.ready_count += 1
        agent.counted_ready_in = now_in

    def _push_ready(self, agent: AgentState) -> None:
        """Indexes the agent in every queue they could take an interaction from now."""
        if agent.presence is not _AVAILABLE or not agent.profile.enabled or agent.held_back:
            return
        capacity = agent.profile.capacity
        holding = agent.holding
        wrapping = agent.wrapping > 0
        entry = ready_entry(agent)
        consults = len(agent.consulted_on)  # each takes a phone place
        for channel, indexes_of_queues in agent.indexes_by_channel:
            if len(holding[channel]) + (consults if channel is _PHONE else 0) >= capacity.get(channel, 0):
                continue
            for indexes in indexes_of_queues:
                if wrapping and not indexes.queue.offer_during_wrap_up:
                    continue  # pushed again when the wrap-up ends (`_freed`)
                if indexes.ready.push_entry(entry):
                    queue = indexes.queue
                    indexes.ready.compact(queue, len(self._members.get(queue.id, ())))

    def _freed(self, agent: AgentState, now: float) -> None:
        """The agent let go of an interaction: routes them, then re-indexes them once.

        Routing an agent reads the waiting indexes only, and each offer
        re-indexes the agent itself, so the index entries are only renewed
        here when no offer was made. The version moves on either way, as
        ties in idle time are broken by it.
        """
        self._touch(agent, now, reindex=False)
        agent.version += 1
        if not self._route_agent(agent, now):
            self._push_ready(agent)

    def _route_agent(self, agent: AgentState, now: float) -> bool:
        """Offers the agent the best waiting interactions across their queues while they have room.

        Returns whether any offer was made.
        """
        interactions = self.interactions
        capacity = agent.profile.capacity
        holding = agent.holding
        offered = False
        # the presence and the capacity used are what `is_ready_for` checks; each offer changes them
        while agent.presence is _AVAILABLE and agent.profile.enabled and not agent.held_back:
            wrapping = agent.wrapping > 0
            best: Interaction | None = None
            best_key: tuple[int, float, int] | None = None
            best_indexes: QueueIndexes | None = None
            consults = len(agent.consulted_on)  # each takes a phone place
            for channel, indexes_of_queues in agent.indexes_by_channel:
                if len(holding[channel]) + (consults if channel is _PHONE else 0) >= capacity.get(channel, 0):
                    continue
                for indexes in indexes_of_queues:
                    waiting = indexes.waiting
                    if not waiting.live or (wrapping and not indexes.queue.offer_during_wrap_up):
                        continue
                    head = waiting.head(interactions, indexes.queue.id)
                    if head is None:
                        continue
                    key = (-head.priority, head.enqueued_at, head.sequence)
                    if best_key is None or key < best_key:
                        best, best_key, best_indexes = head, key, indexes
            if best is None or best_indexes is None:
                return offered
            best_indexes.waiting.pop()
            self._offer(best, agent, best_indexes.queue, now)
            offered = True
        return offered

    def _drain_queue(self, queue_id: str, now: float) -> None:
        """Offers waiting interactions of one queue to ready agents until one side runs out."""
        indexes = self._indexes[queue_id]
        queue = indexes.queue
        waiting = indexes.waiting
        ready = indexes.ready
        while True:
            head = waiting.head(self.interactions, queue_id)
            if head is None:
                return
            agent = ready.pop_best(queue)
            if agent is None:
                return
            waiting.pop()
            self._offer(head, agent, queue, now)

    def _drain_queues(self, queue_ids: Iterable[str], now: float) -> None:
        """Drains several queues at once, the best waiting interaction across them first.

        Draining them one after the other would let an agent who belongs to
        several take a lesser head of the first queue while a better one waits
        in the next. Offers only ever use up readiness, so a queue that has run
        out of ready agents is done.
        """
        interactions = self.interactions
        heads: list[tuple[int, float, int, str]] = []
        for queue_id in dict.fromkeys(queue_ids):
            head = self._indexes[queue_id].waiting.head(interactions, queue_id)
            if head is not None:
                heads.append((-head.priority, head.enqueued_at, head.sequence, queue_id))
        if len(heads) == 1:
            self._drain_queue(heads[0][3], now)
            return
        heapq.heapify(heads)
        while heads:
            queue_id = heads[0][3]
            indexes = self._indexes[queue_id]
            waiting = indexes.waiting
            head = waiting.head(interactions, queue_id)
            agent = indexes.ready.pop_best(indexes.queue)
            if head is None or agent is None:
                heapq.heappop(heads)
                continue
            waiting.pop()
            self._offer(head, agent, indexes.queue, now)
            head = waiting.head(interactions, queue_id)
            if head is None:
                heapq.heappop(heads)
            else:
                heapq.heapreplace(heads, (-head.priority, head.enqueued_at, head.sequence, queue_id))

    def _offer(self, interaction: Interaction, agent: AgentState, queue: Queue, now: float) -> None:
        """Offers the interaction, which waits in `queue`, to the agent."""
        interaction.offer_attempts += 1
        offer_id = f"{interaction.id}.{interaction.offer_attempts}"
        deadline = now + queue.offer_timeout_seconds
        interaction.state = _OFFERED
        interaction.agent_id = agent.id
        interaction.offer_id = offer_id
        interaction.offer_deadline = deadline
        agent.holding[interaction.channel].add(interaction.id)
        agent.idle_since = now
        self._timers.add(queue.offer_timeout_seconds, (deadline, _OFFER_TIMER, interaction.id, offer_id))
        self._dirty_interactions.add(interaction.id)
        self.decisions += 1
        self._events.append(
            InteractionOffered(self.tenant_id, now, interaction.id, queue.id, agent.id, offer_id, deadline)
        )
        self._touch(agent, now)

    def _requeue(self, interaction: Interaction, agent: AgentState, outcome: OfferOutcome, now: float) -> None:
        """Puts an offered interaction back in its original place in its queue."""
        agent.release(interaction)
        self._events.append(
            OfferEnded(self.tenant_id, now, interaction.id, agent.id, interaction.offer_id or "", outcome)
        )
        interaction.state = _QUEUED
        interaction.agent_id = None
        interaction.offer_id = None
        interaction.offer_deadline = None
        self._dirty_interactions.add(interaction.id)
        queue_id = interaction.queue_id or ""
        self._events.append(InteractionQueued(self.tenant_id, now, interaction.id, queue_id, True))
        self._indexes[queue_id].waiting.push(interaction)

    def _missed(
        self,
        interaction: Interaction,
        agent: AgentState,
        outcome: OfferOutcome,
        now: float,
        reason: str = BreakReason.MISSED_OFFER.value,
    ) -> None:
        """A rejected or unanswered offer: the interaction goes back, the agent to break (`reason`).

        An agent who works on another interaction (connected or wrapping up) is present: the missed offer
        is recorded (`OfferEnded`) but they keep their status, held back from further offers until they
        let go of an interaction or choose their status again."""
        self._requeue(interaction, agent, outcome, now)
        if agent.works_on_other_interactions():
            agent.held_back = True
            self._touch(agent, now)
            self._drain_queues([interaction.queue_id or ""], now)
            return
        self._leave(
            agent,
            AgentStatus.BREAK,
            reason,
            OfferOutcome.AGENT_LEFT,
            now,
            requeued=[interaction.queue_id or ""],
        )

    def _leave(
        self,
        agent: AgentState,
        presence: AgentStatus,
        reason: str,
        outcome: OfferOutcome,
        now: float,
        requeued: list[str] | None = None,
    ) -> None:
        """The agent stops being available: pending offers go back to their queues."""
        status, status_reason = agent.status, agent.status_reason
        changed = agent.presence is not presence or agent.reason != reason
        agent.held_back = False
        agent.presence = presence
        agent.reason = reason
        requeued = list(requeued or ())
        for interaction_id in agent.held_interaction_ids():
            interaction = self.interactions[interaction_id]
            if interaction.state is _OFFERED:
                self._requeue(interaction, agent, outcome, now)
                requeued.append(interaction.queue_id or "")
        self._touch(agent, now)
        if changed:
            self._announce_presence(agent, status, status_reason, now)
        self._drain_queues(requeued, now)

    def _announce_presence(self, agent: AgentState, status: AgentStatus, status_reason: str, now: float) -> None:
        """A presence chosen while busy or in wrap-up changes no status: say so, for the agent's console."""
        if agent.status is status and agent.status_reason == status_reason and agent.status is not agent.presence:
            self._events.append(AgentPresenceChanged(self.tenant_id, now, agent.id, agent.presence, agent.reason))

    def _complete_held(
        self, interaction: Interaction, agent: AgentState, disposition: str, notes: str, *, by_timer: bool, now: float
    ) -> None:
        agent.release(interaction)
        interaction.disposition = disposition
        interaction.notes = notes
        interaction.wrap_up_deadline = None
        self._finish(interaction, _COMPLETED, now)
        self._events.append(InteractionCompleted(self.tenant_id, now, interaction.id, agent.id, disposition, by_timer))
        agent.idle_since = now
        self._freed(agent, now)

    def _finish(self, interaction: Interaction, state: InteractionState, now: float) -> None:
        interaction.state = state
        interaction.completed_at = now
        if interaction.ended_at is None:
            interaction.ended_at = now
        interaction.offer_deadline = None
        self._dirty_interactions.add(interaction.id)

    def _compact_waiting(self, queue_id: str) -> None:
        indexes = self._indexes.get(queue_id)
        waiting = None if indexes is None else indexes.waiting
        if waiting is not None and waiting.needs_compaction():
            interactions = self.interactions
            waiting.compact(
                lambda iid, seq: (
                    (i := interactions.get(iid)) is not None
                    and i.state is _QUEUED
                    and i.queue_id == queue_id
                    and i.sequence == seq
                )
            )
