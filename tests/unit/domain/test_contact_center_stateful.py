"""Stateful property test: random sequences of commands, clock moves and configuration changes.

A small independent model is rebuilt from the commands sent and the events
returned (who holds what, who waits where and in which order, each agent's
presence and reported status). After every step the invariants are checked
against it, without calling the contact center's own routing helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from callbridge.domain import commands as cmd
from callbridge.domain.contact_center import AgentSnapshot, ContactCenter
from callbridge.domain.errors import DomainError
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
    Channel,
    Direction,
    Interaction,
    OfferOutcome,
    Queue,
)

T0 = 1_000_000.0

QUEUES = {
    q.id: q
    for q in [
        Queue("sales", "Sales", Channel.PHONE, {}, priority=0, offer_timeout_seconds=10, wrap_up_seconds=5),
        Queue("es", "Spanish", Channel.PHONE, {"spanish": 2}, priority=2, offer_timeout_seconds=8, wrap_up_seconds=0),
        Queue(
            "chat",
            "Chat",
            Channel.CHAT,
            {},
            priority=0,
            offer_timeout_seconds=15,
            wrap_up_seconds=3,
            offer_during_wrap_up=True,
        ),
        Queue("tech", "Tech chat", Channel.CHAT, {"tech": 1}, priority=1, offer_timeout_seconds=15, wrap_up_seconds=10),
        Queue("vm", "Voicemail", Channel.VOICEMAIL, {}, priority=0, offer_timeout_seconds=30, wrap_up_seconds=0),
    ]
}
QUEUE_IDS = sorted(QUEUES)
AGENT_IDS = ["a0", "a1", "a2", "a3", "a4"]
SKILLS = st.dictionaries(st.sampled_from(["spanish", "tech"]), st.integers(0, 3), max_size=2)


def profile(
    agent_id: str,
    queues: list[str],
    skills: dict[str, int],
    phone: int = 1,
    chat: int = 2,
    voicemail: int = 1,
    enabled: bool = True,
) -> AgentProfile:
    return AgentProfile(
        id=agent_id,
        email=f"{agent_id}@example.com",
        display_name=agent_id,
        skills=skills,
        capacity={Channel.PHONE: phone, Channel.CHAT: chat, Channel.VOICEMAIL: voicemail},
        queue_ids=tuple(queues),
        enabled=enabled,
    )


INITIAL_AGENTS = [
    profile("a0", ["sales", "chat"], {}, chat=2),
    profile("a1", ["es", "sales", "vm"], {"spanish": 3}, chat=0),
    profile("a2", ["chat", "tech"], {"tech": 2}, phone=0, chat=3),
    profile("a3", ["es", "tech", "vm"], {"spanish": 1, "tech": 1}, chat=1),
    profile("a4", QUEUE_IDS, {"spanish": 2, "tech": 1}, chat=1),
]

LIVE = ("queued", "offered", "connected", "wrap_up")
HELD = ("offered", "connected", "wrap_up")


class FakeStore:
    """What the store keeps from `take_changes`: the latest row of every live interaction, agent snapshots."""

    def __init__(self) -> None:
        self.interactions: dict[str, Interaction] = {}
        self.agents: dict[str, AgentSnapshot] = {}

    def save(self, cc: ContactCenter) -> list[Interaction]:
        changes = cc.take_changes()
        for row in changes.interactions:
            if row.is_final:
                self.interactions.pop(row.id, None)
            else:
                self.interactions[row.id] = row
        for snapshot in changes.agents:
            self.agents[snapshot.agent_id] = snapshot
        return changes.interactions


class ContactCenterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.cc = ContactCenter("acme")
        self.store = FakeStore()
        self.queues = dict(QUEUES)
        self.profiles: dict[str, AgentProfile] = {}
        # the model
        self.presence = dict.fromkeys(AGENT_IDS, AgentStatus.LOGGED_OUT)
        self.reported = dict.fromkeys(AGENT_IDS, AgentStatus.LOGGED_OUT)
        # missed an offer while working on another interaction: offered nothing until they let one go
        self.held_back = dict.fromkeys(AGENT_IDS, False)
        self.state: dict[str, str] = {}  # interaction -> queued/offered/connected/wrap_up/final
        self.holder: dict[str, str | None] = {}
        self.channel: dict[str, Channel] = {}
        self.queue_of: dict[str, str | None] = {}
        self.key: dict[str, tuple[int, float, int]] = {}
        self.deadline: dict[str, float] = {}
        self.forgotten: set[str] = set()  # final and handed to the store
        self.sequence = 0
        self.next_id = 0
        self.pending_priority: int | None = None
        for queue in QUEUES.values():
            self._process(self.cc.upsert_queue(queue, self.now))
        for agent in INITIAL_AGENTS:
            self.profiles[agent.id] = agent
            self._process(self.cc.upsert_agent(agent, self.now))
        for agent_id in ("a0", "a2", "a4"):  # some start the day available
            self.sign_in(agent_id)
            self.set_presence(agent_id, AgentStatus.AVAILABLE, "")

    # ------------------------------------------------------------------ model helpers

    def _eligible(self, agent_id: str, queue_id: str) -> bool:
        p = self.profiles[agent_id]
        queue = self.queues[queue_id]
        return queue_id in p.queue_ids and all(p.skills.get(s, -1) >= lvl for s, lvl in queue.required_skills.items())

    def _held(self, agent_id: str, channel: Channel | None = None) -> list[str]:
        return [
            i
            for i, a in self.holder.items()
            if a == agent_id and self.state[i] in HELD and (channel is None or self.channel[i] is channel)
        ]

    def _wrapping(self, agent_id: str) -> bool:
        return any(self.state[i] == "wrap_up" for i in self._held(agent_id))

    def _working(self, agent_id: str) -> bool:
        return any(self.state[i] in ("connected", "wrap_up") for i in self._held(agent_id))

    def _ready(self, agent_id: str, queue_id: str) -> bool:
        p = self.profiles[agent_id]
        queue = self.queues[queue_id]
        channel = queue.channel
        return (
            self.presence[agent_id] is AgentStatus.AVAILABLE
            and p.enabled
            and not self.held_back[agent_id]
            and (queue.offer_during_wrap_up or not self._wrapping(agent_id))
            and self._eligible(agent_id, queue_id)
            and len(self._held(agent_id, channel)) < p.capacity.get(channel, 0)
        )

    def _waiting(self, queue_id: str) -> list[str]:
        return sorted(
            (i for i, s in self.state.items() if s == "queued" and self.queue_of[i] == queue_id),
            key=lambda i: self.key[i],
        )

    def _expected_status(self, agent_id: str) -> AgentStatus:
        states = {self.state[i] for i in self._held(agent_id)}
        if "connected" in states:
            return AgentStatus.BUSY
        if "wrap_up" in states:
            return AgentStatus.WRAP_UP
        return self.presence[agent_id]

    def _fingerprint(self) -> Any:
        cc = self.cc
        return (
            sorted((k, asdict(v)) for k, v in cc.interactions.items()),
            [(cc.agent_snapshot(a), cc.agents[a].presence, cc.agents[a].reason) for a in sorted(cc.agents)],
            cc.decisions,
        )

    def _run(self, action: Callable[[], list[Event]], before_events: Callable[[], None] | None = None) -> bool:
        """Runs a command; a refusal must change nothing. Returns whether it was applied."""
        before = self._fingerprint()
        try:
            events = action()
        except DomainError:
            assert self._fingerprint() == before, "a refused command changed the state"
            return False
        if before_events is not None:
            before_events()
        self._process(events)
        return True

    def _handle(self, command: cmd.Command, before_events: Callable[[], None] | None = None) -> bool:
        return self._run(lambda: self.cc.handle(command, self.now), before_events)

    # ------------------------------------------------------------------ replaying events

    def _process(self, events: list[Event]) -> None:
        for e in events:
            assert e.tenant_id == "acme"
            assert e.at == self.now
            if isinstance(e, AgentStatusChanged):
                assert e.previous_status is self.reported[e.agent_id], e
                assert e.status is not e.previous_status or e.status in (AgentStatus.BREAK, AgentStatus.LOGGED_OUT)
                self.reported[e.agent_id] = e.status
            elif isinstance(e, AgentPresenceChanged):
                # a presence chosen while working: announced, and no status change with it
                assert e.presence is self.presence[e.agent_id], e
                assert self.reported[e.agent_id] in (AgentStatus.BUSY, AgentStatus.WRAP_UP), e
                assert not any(isinstance(o, AgentStatusChanged) and o.agent_id == e.agent_id for o in events), e
            elif isinstance(e, InteractionCreated):
                iid = e.interaction_id
                assert iid not in self.state or iid in self.forgotten, f"{iid} created twice"
                self.forgotten.discard(iid)
                self.sequence += 1
                self.channel[iid] = e.channel
                self.queue_of[iid] = e.queue_id
                self.holder[iid] = None
                self.state[iid] = "new"
                if e.direction is Direction.INBOUND:
                    assert e.queue_id is not None
                    priority = self.queues[e.queue_id].priority
                    if self.pending_priority is not None:
                        priority = self.pending_priority
                    self.key[iid] = (-priority, self.now, self.sequence)
            elif isinstance(e, InteractionQueued):
                iid = e.interaction_id
                assert self.state[iid] in ("new", "offer_ended", "transferred"), (iid, self.state[iid])
                assert e.requeued == (self.state[iid] != "new")
                assert self.queue_of[iid] == e.queue_id
                self.state[iid] = "queued"
                self.holder[iid] = None
            elif isinstance(e, InteractionOffered):
                self._check_offer(e)
                self.state[e.interaction_id] = "offered"
                self.holder[e.interaction_id] = e.agent_id
                self.deadline[e.interaction_id] = e.deadline
                assert e.deadline == self.now + self.queues[e.queue_id].offer_timeout_seconds
            elif isinstance(e, OfferEnded):
                iid = e.interaction_id
                assert self.state[iid] == "offered", (e, self.state[iid])
                assert self.holder[iid] == e.agent_id, (e, self.holder[iid])
                if e.outcome is OfferOutcome.ACCEPTED:
                    self.state[iid] = "accepted"
                else:
                    self.state[iid] = "offer_ended"
                    self.holder[iid] = None
                if e.outcome is OfferOutcome.TIMED_OUT:
                    assert self.now >= self.deadline[iid], f"{iid} timed out before its deadline"
                if e.outcome in (OfferOutcome.REJECTED, OfferOutcome.TIMED_OUT):
                    # working on something else is not absence: held back instead of benched
                    if self._working(e.agent_id):
                        self.held_back[e.agent_id] = True
                    else:
                        self.presence[e.agent_id] = AgentStatus.BREAK
            elif isinstance(e, InteractionConnected):
                iid = e.interaction_id
                assert self.state[iid] in ("accepted", "new"), (iid, self.state[iid])
                outbound = self.state[iid] == "new"
                self.state[iid] = "connected"
                self.holder[iid] = e.agent_id
                if outbound:  # click to dial takes phone capacity like an offer does
                    p = self.profiles[e.agent_id]
                    assert len(self._held(e.agent_id, Channel.PHONE)) <= p.capacity.get(Channel.PHONE, 0)
            elif isinstance(e, InteractionTransferred):
                iid = e.interaction_id
                assert self.state[iid] == "connected"
                assert self.holder[iid] == e.agent_id
                self.held_back[e.agent_id] = False
                self.state[iid] = "transferred"
                self.holder[iid] = None
                self.queue_of[iid] = e.to_queue_id
                self.sequence += 1
                self.key[iid] = (-self.queues[e.to_queue_id].priority, self.now, self.sequence)
            elif isinstance(e, InteractionWrapUpStarted):
                iid = e.interaction_id
                assert self.state[iid] == "connected"
                assert self.holder[iid] == e.agent_id
                self.state[iid] = "wrap_up"
                self.deadline[iid] = e.deadline
            elif isinstance(e, InteractionCompleted):
                iid = e.interaction_id
                assert self.state[iid] in ("connected", "wrap_up")
                assert self.holder[iid] == e.agent_id
                self.held_back[e.agent_id] = False
                self.state[iid] = "final"
                self.holder[iid] = None
            elif isinstance(e, InteractionAbandoned | InteractionFailed):
                iid = e.interaction_id
                assert self.state[iid] in ("queued", "offer_ended", "connected", "wrap_up"), (e, self.state[iid])
                holder = self.holder[iid]
                if holder is not None and self.state[iid] in ("connected", "wrap_up"):
                    self.held_back[holder] = False
                self.state[iid] = "final"
                self.holder[iid] = None
            else:  # pragma: no cover - a new event type needs a model rule
                raise AssertionError(f"unexpected event {e!r}")
        self.pending_priority = None
        transient = {i: s for i, s in self.state.items() if s in ("new", "accepted", "offer_ended", "transferred")}
        assert not transient, f"interactions left half-way through a transition: {transient}"

    def _check_offer(self, e: InteractionOffered) -> None:
        iid, agent_id, queue_id = e.interaction_id, e.agent_id, e.queue_id
        assert self.state[iid] in ("queued", "new"), f"{iid} offered while {self.state[iid]}"
        assert self.holder[iid] is None, f"{iid} offered to {agent_id} while held by {self.holder[iid]}"
        assert self.queue_of[iid] == queue_id
        channel = self.channel[iid]
        p = self.profiles[agent_id]
        assert self.presence[agent_id] is AgentStatus.AVAILABLE, f"offer to {agent_id} who is {self.presence[agent_id]}"
        assert not self.held_back[agent_id], f"offer to {agent_id} held back after a missed offer"
        assert self.queues[queue_id].offer_during_wrap_up or not self._wrapping(agent_id), (
            f"offer of {queue_id} to {agent_id} during wrap-up"
        )
        assert p.enabled, f"offer to disabled {agent_id}"
        assert self._eligible(agent_id, queue_id), f"offer of {queue_id} to {agent_id} who does not qualify"
        assert len(self._held(agent_id, channel)) < p.capacity.get(channel, 0), f"{agent_id} over capacity"
        # queue order: nothing waiting that this agent could take on this channel outranks it
        for other_queue in QUEUE_IDS:
            if self.queues[other_queue].channel is not channel or not self._eligible(agent_id, other_queue):
                continue
            for other in self._waiting(other_queue):
                if other != iid:
                    assert self.key[other] > self.key[iid], (
                        f"{iid} {self.key[iid]} offered to {agent_id} while {other} {self.key[other]} "
                        f"waits in {other_queue}"
                    )

    # ------------------------------------------------------------------ rules: agents

    agents = st.sampled_from(AGENT_IDS)

    @rule(agent_id=agents)
    def sign_in(self, agent_id: str) -> None:
        def sign_in() -> None:
            if self.presence[agent_id] is AgentStatus.LOGGED_OUT:
                self.presence[agent_id] = AgentStatus.BREAK

        applied = self._handle(cmd.SignIn(agent_id), sign_in)
        assert applied == self.profiles[agent_id].enabled

    @rule(
        agent_id=agents,
        presence=st.sampled_from([AgentStatus.AVAILABLE, AgentStatus.BREAK, AgentStatus.WORKING_OFFLINE]),
        reason=st.sampled_from(["", "lunch"]),
    )
    def set_presence(self, agent_id: str, presence: AgentStatus, reason: str) -> None:
        def change() -> None:
            self.presence[agent_id] = presence
            self.held_back[agent_id] = False

        applied = self._handle(cmd.SetPresence(agent_id, presence, reason), change)
        signed_in = self.presence[agent_id] is not AgentStatus.LOGGED_OUT
        assert applied or not signed_in or not self.profiles[agent_id].enabled

    @rule(agent_id=agents)
    def sign_out(self, agent_id: str) -> None:
        handling = [i for i in self._held(agent_id) if self.state[i] != "offered"]

        def leave() -> None:
            self.presence[agent_id] = AgentStatus.LOGGED_OUT
            self.held_back[agent_id] = False

        assert self._handle(cmd.SignOut(agent_id), leave) == (not handling)

    @rule(agent_id=agents)
    def connection_lost(self, agent_id: str) -> None:
        def lost() -> None:
            if self.presence[agent_id] is not AgentStatus.LOGGED_OUT:
                self.presence[agent_id] = AgentStatus.BREAK
                self.held_back[agent_id] = False

        assert self._handle(cmd.ReportConnectionLost(agent_id), lost)

    @rule(
        agent_id=agents,
        enabled=st.booleans() | st.just(True),
        skills=SKILLS,
        queues=st.sets(st.sampled_from(QUEUE_IDS)),
        phone=st.integers(0, 1),
        chat=st.integers(0, 3),
    )
    def configure_agent(
        self, agent_id: str, enabled: bool, skills: dict[str, int], queues: set[str], phone: int, chat: int
    ) -> None:
        new = profile(agent_id, sorted(queues), skills, phone=phone, chat=chat, enabled=enabled)

        def apply() -> None:
            self.profiles[agent_id] = new
            if not enabled and self.presence[agent_id] is not AgentStatus.LOGGED_OUT:
                self.presence[agent_id] = AgentStatus.LOGGED_OUT
                self.held_back[agent_id] = False

        assert self._run(lambda: self.cc.upsert_agent(new, self.now), apply)

    @rule(queue_id=st.sampled_from(["es", "tech"]), level=st.integers(0, 3))
    def change_queue_requirement(self, queue_id: str, level: int) -> None:
        old = self.queues[queue_id]
        skill = next(iter(QUEUES[queue_id].required_skills))
        new = replace(old, required_skills={skill: level})

        def apply() -> None:
            self.queues[queue_id] = new

        assert self._run(lambda: self.cc.upsert_queue(new, self.now), apply)

    @rule(queue_id=st.sampled_from(QUEUE_IDS), allowed=st.booleans())
    def change_offers_during_wrap_up(self, queue_id: str, allowed: bool) -> None:
        new = replace(self.queues[queue_id], offer_during_wrap_up=allowed)

        def apply() -> None:
            self.queues[queue_id] = new

        assert self._run(lambda: self.cc.upsert_queue(new, self.now), apply)

    # ------------------------------------------------------------------ rules: interactions

    def _ids(self, *states: str) -> list[str]:
        return sorted(i for i, s in self.state.items() if s in states)

    @rule(
        arrivals=st.lists(
            st.tuples(st.sampled_from(QUEUE_IDS), st.none() | st.integers(0, 3)),
            min_size=1,
            max_size=4,
        )
    )
    def submit(self, arrivals: list[tuple[str, int | None]]) -> None:
        for queue_id, priority in arrivals:
            iid = f"i{self.next_id}"
            self.next_id += 1
            self.pending_priority = priority
            command = cmd.SubmitInteraction(iid, queue_id, self.queues[queue_id].channel, priority=priority)
            assert self._handle(command)

    @precondition(lambda self: bool(self.forgotten))
    @rule(data=st.data(), queue_id=st.sampled_from(QUEUE_IDS))
    def submit_with_a_reused_id(self, data: st.DataObject, queue_id: str) -> None:
        iid = data.draw(st.sampled_from(sorted(self.forgotten)))
        assert iid not in self.cc.interactions
        assert self._handle(cmd.SubmitInteraction(iid, queue_id, self.queues[queue_id].channel))

    @rule(agent_id=agents, queue_id=st.none() | st.sampled_from(["sales", "es"]), wrap_up=st.sampled_from([0, 4]))
    def click_to_dial(self, agent_id: str, queue_id: str | None, wrap_up: int) -> None:
        iid = f"i{self.next_id}"
        self.next_id += 1
        free = self.profiles[agent_id].capacity.get(Channel.PHONE, 0) - len(self._held(agent_id, Channel.PHONE))
        command = cmd.StartOutbound(iid, agent_id, "+15550001111", queue_id=queue_id, wrap_up_seconds=wrap_up)
        applied = self._handle(command)
        assert applied == (self.presence[agent_id] is not AgentStatus.LOGGED_OUT and free > 0)

    @precondition(lambda self: bool(self._ids("offered")))
    @rule(data=st.data(), answer=st.sampled_from(["accept", "reject"]))
    def answer_offer(self, data: st.DataObject, answer: str) -> None:
        iid = data.draw(st.sampled_from(self._ids("offered")))
        agent_id = self.holder[iid]
        assert agent_id is not None
        command: cmd.Command = cmd.AcceptOffer(agent_id, iid) if answer == "accept" else cmd.RejectOffer(agent_id, iid)
        applied = self._handle(command)
        assert applied == (self.now < self.deadline[iid])

    @precondition(lambda self: any(self._working(self.holder[i] or "") for i in self._ids("offered")))
    @rule(data=st.data(), answer=st.sampled_from(["reject", "time_out"]))
    def miss_an_offer_while_working(self, data: st.DataObject, answer: str) -> None:
        iid = data.draw(st.sampled_from([i for i in self._ids("offered") if self._working(self.holder[i] or "")]))
        agent_id = self.holder[iid]
        assert agent_id is not None
        if answer == "reject":
            assert self._handle(cmd.RejectOffer(agent_id, iid)) == (self.now < self.deadline[iid])
        else:
            self.now = max(self.now, self.deadline[iid])
            assert self._handle(cmd.Tick())

    @rule(data=st.data(), agent_id=agents, answer=st.sampled_from(["accept", "reject"]))
    def answer_someone_elses_offer(self, data: st.DataObject, agent_id: str, answer: str) -> None:
        iid = data.draw(st.sampled_from([*self._ids(*LIVE, "final"), "nope"]))
        if self.holder.get(iid) == agent_id and self.state[iid] == "offered":
            return
        command: cmd.Command = cmd.AcceptOffer(agent_id, iid) if answer == "accept" else cmd.RejectOffer(agent_id, iid)
        assert not self._handle(command)

    @precondition(lambda self: bool(self._ids(*LIVE)))
    @rule(data=st.data())
    def end(self, data: st.DataObject) -> None:
        iid = data.draw(st.sampled_from(self._ids(*LIVE)))
        was = self.state[iid]
        assert self._handle(cmd.EndInteraction(iid, "hangup")) == (was != "wrap_up")

    @precondition(lambda self: bool(self._ids("connected", "wrap_up")))
    @rule(data=st.data(), disposition=st.sampled_from(["", "sale"]))
    def complete(self, data: st.DataObject, disposition: str) -> None:
        iid = data.draw(st.sampled_from(self._ids("connected", "wrap_up")))
        agent_id = self.holder[iid]
        assert agent_id is not None
        assert self._handle(cmd.CompleteInteraction(agent_id, iid, disposition, "notes"))

    @precondition(lambda self: bool(self._ids("connected")))
    @rule(data=st.data(), queue_id=st.sampled_from(QUEUE_IDS))
    def transfer(self, data: st.DataObject, queue_id: str) -> None:
        iid = data.draw(st.sampled_from(self._ids("connected")))
        agent_id = self.holder[iid]
        assert agent_id is not None
        applied = self._handle(cmd.TransferToQueue(agent_id, iid, queue_id))
        assert applied == (self.queues[queue_id].channel is self.channel[iid])

    @precondition(lambda self: bool(self._ids(*LIVE)))
    @rule(data=st.data())
    def fail(self, data: st.DataObject) -> None:
        iid = data.draw(st.sampled_from(self._ids(*LIVE)))
        assert self._handle(cmd.FailInteraction(iid, "carrier_error"))

    # ------------------------------------------------------------------ rules: time and storage

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 3.0, 8.0, 15.0, 40.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds
        assert self._handle(cmd.Tick())
        for iid in self._ids("offered", "wrap_up"):
            assert self.deadline[iid] > self.now, f"{iid} is {self.state[iid]} past its deadline"

    @rule(seconds=st.sampled_from([1.0, 10.0, 20.0]))
    def time_passes_without_tick(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def save(self) -> None:
        for row in self.store.save(self.cc):
            if row.is_final:
                assert row.id not in self.cc.interactions
                self.forgotten.add(row.id)

    @rule()
    def restart(self) -> None:
        self.save()
        saved = [(self.profiles[a], self.store.agents[a]) for a in AGENT_IDS]
        rows = [replace(i, data=dict(i.data)) for i in self.store.interactions.values()]
        self.cc = ContactCenter("acme")
        self.held_back = dict.fromkeys(AGENT_IDS, False)  # not saved: a restart ends every hold-back
        for queue in self.queues.values():
            self.cc.upsert_queue(queue, self.now)
        self._process(self.cc.restore(saved, rows, self.now))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def each_interaction_has_one_holder_at_most(self) -> None:
        holders: dict[str, list[str]] = {}
        for agent_id, agent in self.cc.agents.items():
            for iid in agent.held_interaction_ids():
                holders.setdefault(iid, []).append(agent_id)
        for iid, interaction in self.cc.interactions.items():
            if interaction.state.value in HELD:
                assert holders.get(iid) == [interaction.agent_id], (iid, interaction.state, holders.get(iid))
            else:
                assert iid not in holders, (iid, interaction.state, holders[iid])
        assert set(holders) <= set(self.cc.interactions)

    @invariant()
    def nothing_is_lost(self) -> None:
        for iid, state in self.state.items():
            live = self.cc.interactions.get(iid)
            if state == "final":
                assert live is None or live.is_final, f"{iid} reported final but is {live.state}"
            else:
                assert live is not None, f"{iid} ({state}) is lost"
                assert live.state.value == state, (iid, live.state, state)
                assert live.agent_id == self.holder[iid]
        assert set(self.cc.interactions) <= set(self.state)

    @invariant()
    def queues_hold_their_interactions_in_order(self) -> None:
        for queue_id in QUEUE_IDS:
            assert [i.id for i in self.cc.waiting_in(queue_id)] == self._waiting(queue_id)

    @invariant()
    def routing_is_at_a_fixpoint(self) -> None:
        for queue_id in QUEUE_IDS:
            waiting = self._waiting(queue_id)
            if waiting:
                ready = [a for a in AGENT_IDS if self._ready(a, queue_id)]
                assert not ready, f"{ready} ready for {queue_id} while {waiting} wait"

    @invariant()
    def queue_summaries_kept_as_things_change_equal_the_recomputed_ones(self) -> None:
        for queue_id in QUEUE_IDS:
            waiting = self._waiting(queue_id)
            summary = self.cc.queue_snapshot(queue_id)
            assert summary.waiting == len(waiting), (queue_id, summary, waiting)
            oldest = min((self.cc.interactions[i].enqueued_at for i in waiting), default=None)
            assert summary.oldest_enqueued_at == oldest, (queue_id, summary, oldest)
            ready = [a for a in AGENT_IDS if self._ready(a, queue_id)]
            assert summary.ready_agents == len(ready), (queue_id, summary, ready)

    @invariant()
    def statuses_follow_presence_and_held_interactions(self) -> None:
        for agent_id in AGENT_IDS:
            expected = self._expected_status(agent_id)
            assert self.reported[agent_id] is expected, (agent_id, self.reported[agent_id], expected)
            assert self.cc.agents[agent_id].status is expected
            assert self.cc.agents[agent_id].presence is self.presence[agent_id]
            if not self.profiles[agent_id].enabled:
                assert self.presence[agent_id] is AgentStatus.LOGGED_OUT


ContactCenterMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestContactCenter = ContactCenterMachine.TestCase
