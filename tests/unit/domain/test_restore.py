"""Rebuilding a contact center from what the store saved, after a restart."""

from __future__ import annotations

from dataclasses import replace

import pytest
from domain_builders import T0, agent, center, make_available, of_type, offers, queue, submit

from callbridge.domain import commands as cmd
from callbridge.domain.contact_center import AgentSnapshot, ContactCenter
from callbridge.domain.errors import InvalidTransition
from callbridge.domain.events import InteractionCompleted, OfferEnded
from callbridge.domain.model import (
    AgentProfile,
    AgentStatus,
    Channel,
    Interaction,
    InteractionState,
    OfferOutcome,
    Queue,
)


class FakeStore:
    """Keeps the rows `take_changes` hands over, the way the real store does."""

    def __init__(self) -> None:
        self.interactions: dict[str, Interaction] = {}
        self.agents: dict[str, AgentSnapshot] = {}

    def save(self, cc: ContactCenter) -> None:
        changes = cc.take_changes()
        for interaction in changes.interactions:
            if interaction.is_final:
                self.interactions.pop(interaction.id, None)
            else:
                self.interactions[interaction.id] = interaction
        for snapshot in changes.agents:
            self.agents[snapshot.agent_id] = snapshot

    def restart(self, queues: list[Queue], profiles: list[AgentProfile], now: float) -> tuple[ContactCenter, list]:  # type: ignore[type-arg]
        cc = ContactCenter("acme")
        for q in queues:
            cc.upsert_queue(q, now)
        saved = [(p, self.agents[p.id]) for p in profiles]
        rows = [replace(i, data=dict(i.data)) for i in self.interactions.values()]
        return cc, cc.restore(saved, rows, now)


QUEUES = [queue("sales", wrap_up=30), queue("support", Channel.CHAT)]
PROFILES = [agent("ann", ["sales", "support"]), agent("bob", ["sales"]), agent("cat", ["support"])]


def _running() -> tuple[ContactCenter, FakeStore]:
    store = FakeStore()
    cc = center(QUEUES, [])
    for p in PROFILES:
        cc.upsert_agent(p, T0)
    store.save(cc)
    return cc, store


def test_restore_keeps_queued_interactions_in_order() -> None:
    cc, store = _running()
    submit(cc, "p1", "sales", T0 + 1)
    submit(cc, "p2", "sales", T0 + 2, priority=4)
    submit(cc, "p3", "sales", T0 + 3)
    store.save(cc)

    restored, events = store.restart(QUEUES, PROFILES, T0 + 100)

    assert events == []
    assert [i.id for i in restored.waiting_in("sales")] == ["p2", "p1", "p3"]
    make_available(restored, "bob", T0 + 101)
    assert restored.interactions["p2"].state is InteractionState.OFFERED
    submit(restored, "p4", "sales", T0 + 102)
    restored.handle(cmd.RejectOffer("bob", "p2"), T0 + 103)
    assert [i.id for i in restored.waiting_in("sales")] == ["p2", "p1", "p3", "p4"]


def test_restore_continues_sequence_after_the_saved_ones() -> None:
    cc, store = _running()
    submit(cc, "p1", "sales", T0 + 5)
    store.save(cc)
    restored, _ = store.restart(QUEUES, PROFILES, T0 + 100)
    submit(restored, "p0", "sales", T0 + 5)  # same instant: arrives after p1
    assert [i.id for i in restored.waiting_in("sales")] == ["p1", "p0"]


def test_restore_ends_offers_that_expired_meanwhile_without_benching_their_agents() -> None:
    cc, store = _running()
    make_available(cc, "bob", T0)
    make_available(cc, "cat", T0)
    submit(cc, "p0", "sales", T0)  # offered to bob, deadline T0 + 20
    submit(cc, "c1", "support", T0 + 1)  # offered to cat, deadline T0 + 21
    submit(cc, "p1", "sales", T0 + 2)  # waits
    store.save(cc)

    restored, events = store.restart(QUEUES, PROFILES, T0 + 60)

    # nobody could answer while the node was down: not a missed offer, and the agents stay available
    ended = {(e.interaction_id, e.agent_id, e.outcome) for e in of_type(events, OfferEnded)}
    assert ended == {("p0", "bob", OfferOutcome.NODE_RESTARTED), ("c1", "cat", OfferOutcome.NODE_RESTARTED)}
    for name in ("bob", "cat"):
        assert restored.agents[name].status is AgentStatus.AVAILABLE
        assert restored.agents[name].status_reason == ""
    # back in their original place, so offered again first, to the same agents (still the longest idle)
    assert restored.interactions["p0"].offer_id == "p0.2"
    assert restored.interactions["p0"].agent_id == "bob"
    assert restored.interactions["c1"].agent_id == "cat"
    assert [i.id for i in restored.waiting_in("sales")] == ["p1"]
    assert restored.next_deadline() == T0 + 60 + 20


def test_restore_keeps_offers_still_running_and_their_timers() -> None:
    cc, store = _running()
    make_available(cc, "bob", T0)
    submit(cc, "p0", "sales", T0)
    store.save(cc)

    restored, events = store.restart(QUEUES, PROFILES, T0 + 5)

    assert events == []
    assert restored.interactions["p0"].state is InteractionState.OFFERED
    assert restored.next_deadline() == T0 + 20
    restored.handle(cmd.AcceptOffer("bob", "p0"), T0 + 6)
    assert restored.agents["bob"].status is AgentStatus.BUSY


def test_restore_completes_wrap_ups_that_ran_out_and_routes_the_freed_agent() -> None:
    cc, store = _running()
    make_available(cc, "bob", T0)
    submit(cc, "p0", "sales", T0)
    cc.handle(cmd.AcceptOffer("bob", "p0"), T0 + 1)
    cc.handle(cmd.EndInteraction("p0"), T0 + 10)  # wrap-up until T0 + 40
    submit(cc, "p1", "sales", T0 + 11)
    store.save(cc)

    restored, events = store.restart(QUEUES, PROFILES, T0 + 50)

    assert [e.interaction_id for e in of_type(events, InteractionCompleted)] == ["p0"]
    assert offers(events) == [("p1", "bob")]


def test_restore_routes_waiting_interactions_to_available_agents() -> None:
    cc, store = _running()
    make_available(cc, "ann", T0)
    cc.handle(cmd.StartOutbound("o1", "ann", "+15550000000"), T0 + 1)
    submit(cc, "p1", "sales", T0 + 2)
    store.save(cc)
    restored, events = store.restart(QUEUES, PROFILES, T0 + 3)
    assert events == []
    restored.handle(cmd.EndInteraction("o1"), T0 + 4)
    assert offers(restored.handle(cmd.Tick(), T0 + 34)) == [("p1", "ann")]


def _ann_consults_bob_and_restarts() -> ContactCenter:
    """p0 connected to ann, who consults bob; the tenant is rebuilt from the store mid-consult; p1 comes in."""
    cc, store = _running()
    make_available(cc, "ann", T0)
    submit(cc, "p0", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "p0"), T0 + 1)
    make_available(cc, "bob", T0 + 2)
    cc.handle(cmd.StartConsult("ann", "p0", "bob"), T0 + 3)
    store.save(cc)

    restored, events = store.restart(QUEUES, PROFILES, T0 + 10)

    assert events == []
    assert offers(submit(restored, "p1", "sales", T0 + 11)) == [], "bob is still talking to ann"
    bob = restored.agents["bob"]
    assert (bob.status, bob.consulted_on) == (AgentStatus.BUSY, {"p0"})
    assert restored.queue_snapshot("sales").ready_agents == 0
    return restored


def test_restore_keeps_the_consulted_agent_busy_until_the_consult_ends() -> None:
    restored = _ann_consults_bob_and_restarts()

    with pytest.raises(InvalidTransition, match="already in a consult"):
        restored.handle(cmd.StartConsult("ann", "p0", "cat"), T0 + 12)
    events = restored.handle(cmd.EndConsult("ann", "p0", "bob"), T0 + 12)

    assert offers(events) == [("p1", "bob")]
    assert restored.interactions["p0"].consult_agent_id is None
    assert [i.consult_agent_id for i in restored.take_changes().interactions if i.id == "p0"] == [None]


def test_restore_keeps_the_consult_until_its_call_fails() -> None:
    restored = _ann_consults_bob_and_restarts()

    events = restored.handle(cmd.FailInteraction("p0", "the node carrying it is gone"), T0 + 12)

    assert ("p1", "bob") in offers(events)


def test_restore_keeps_a_completed_consult_complete() -> None:
    restored = _ann_consults_bob_and_restarts()

    restored.handle(cmd.TransferToAgent("ann", "p0", "bob"), T0 + 12)
    events = restored.handle(cmd.AcceptOffer("bob", "p0"), T0 + 12)

    assert restored.interactions["p0"].consult_agent_id is None
    assert restored.agents["bob"].consulted_on == set()
    assert offers(events) == []
    assert restored.interactions["p1"].agent_id == "ann"
