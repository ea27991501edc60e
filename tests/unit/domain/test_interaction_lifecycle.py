"""An interaction from arrival to its final state: offers, answers, wrap-up, transfer, click to dial."""

from __future__ import annotations

import pytest
from domain_builders import T0, agent, center, make_available, of_type, offers, queue, submit

from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition, NoCapacity
from callbridge.domain.events import (
    AgentStatusChanged,
    InteractionAbandoned,
    InteractionCompleted,
    InteractionConnected,
    InteractionCreated,
    InteractionFailed,
    InteractionQueued,
    InteractionTransferred,
    InteractionWrapUpStarted,
    OfferEnded,
)
from callbridge.domain.model import AgentStatus, Channel, Direction, InteractionState, OfferOutcome


def _two_agents_one_queue(channel: Channel = Channel.PHONE, **queue_kwargs: int):  # type: ignore[no-untyped-def]
    return center([queue("sales", channel, **queue_kwargs)], [agent("ann", ["sales"]), agent("bob", ["sales"])])  # type: ignore[arg-type]


def test_accept_connects_and_makes_the_agent_busy() -> None:
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)

    events = cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 3)

    assert [e.outcome for e in of_type(events, OfferEnded)] == [OfferOutcome.ACCEPTED]
    assert len(of_type(events, InteractionConnected)) == 1
    c1 = cc.interactions["c1"]
    assert (c1.state, c1.agent_id, c1.connected_at, c1.offer_deadline) == (
        InteractionState.CONNECTED,
        "ann",
        T0 + 3,
        None,
    )
    assert cc.agents["ann"].status is AgentStatus.BUSY


@pytest.mark.parametrize("how", ["reject", "timeout"])
def test_missed_offer_goes_back_to_its_original_place_and_agent_to_break(how: str) -> None:
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0 + 1)  # offered to ann
    submit(cc, "c2", "sales", T0 + 2)  # waits behind it
    submit(cc, "c3", "sales", T0 + 3)

    if how == "reject":
        events = cc.handle(cmd.RejectOffer("ann", "c1"), T0 + 5)
        outcome = OfferOutcome.REJECTED
    else:
        assert cc.handle(cmd.Tick(), T0 + 20.9) == []
        events = cc.handle(cmd.Tick(), T0 + 21)
        outcome = OfferOutcome.TIMED_OUT

    assert [(e.interaction_id, e.outcome) for e in of_type(events, OfferEnded)] == [("c1", outcome)]
    assert [e.requeued for e in of_type(events, InteractionQueued)] == [True]
    assert cc.agents["ann"].status is AgentStatus.BREAK
    assert cc.agents["ann"].status_reason == "missed_offer"
    assert [i.id for i in cc.waiting_in("sales")] == ["c1", "c2", "c3"]
    assert cc.interactions["c1"].enqueued_at == T0 + 1


@pytest.mark.parametrize(
    ("phone_registered", "outcome", "reason"),
    [
        (True, OfferOutcome.TIMED_OUT, "missed_offer"),
        (False, OfferOutcome.PHONE_NOT_REGISTERED, "phone_not_registered"),
    ],
)
def test_an_offer_the_phone_did_not_take_is_missed_at_once_and_says_why(
    phone_registered: bool, outcome: OfferOutcome, reason: str
) -> None:
    """A registered phone that did not answer in time misses the offer like its deadline would; a phone that is not
    registered says so, to the agent and supervisors (the break reason) and in the reports (the outcome)."""
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0 + 1)  # offered to ann, with a deadline at T0 + 21

    events = cc.handle(cmd.MissOffer("ann", "c1", phone_registered=phone_registered), T0 + 6)

    assert [(e.interaction_id, e.outcome) for e in of_type(events, OfferEnded)] == [("c1", outcome)]
    assert cc.agents["ann"].status is AgentStatus.BREAK
    assert cc.agents["ann"].status_reason == reason
    assert [i.id for i in cc.waiting_in("sales")] == ["c1"]
    with pytest.raises(InvalidTransition):  # the offer is over: a late word from the phone changes nothing
        cc.handle(cmd.MissOffer("ann", "c1"), T0 + 7)

    assert offers(make_available(cc, "bob", T0 + 30)) == [("c1", "bob")]


def test_missed_offer_goes_to_the_next_ready_agent_at_once() -> None:
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    make_available(cc, "bob", T0 + 1)
    submit(cc, "c1", "sales", T0 + 2)

    assert offers(cc.handle(cmd.RejectOffer("ann", "c1"), T0 + 3)) == [("c1", "bob")]
    assert cc.interactions["c1"].offer_attempts == 2


def test_missed_offer_sends_the_agents_other_pending_offers_back_too() -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"], chat=3)])
    make_available(cc, "ann", T0)
    for n in range(4):
        submit(cc, f"c{n}", "support", T0 + n)

    events = cc.handle(cmd.RejectOffer("ann", "c1"), T0 + 6)

    assert {(e.interaction_id, e.outcome) for e in of_type(events, OfferEnded)} == {
        ("c1", OfferOutcome.REJECTED),
        ("c0", OfferOutcome.AGENT_LEFT),
        ("c2", OfferOutcome.AGENT_LEFT),
    }
    assert [i.id for i in cc.waiting_in("support")] == ["c0", "c1", "c2", "c3"]
    assert (cc.agents["ann"].status, cc.agents["ann"].status_reason) == (AgentStatus.BREAK, "missed_offer")


@pytest.mark.parametrize("how", ["reject", "timeout"])
def test_an_offer_missed_mid_chat_is_recorded_but_is_not_absence(how: str) -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"], chat=3)])
    make_available(cc, "ann", T0)
    for n in range(4):
        submit(cc, f"c{n}", "support", T0 + n)
    cc.handle(cmd.AcceptOffer("ann", "c0"), T0 + 5)
    cc.handle(cmd.AcceptOffer("ann", "c2"), T0 + 5)

    if how == "reject":
        events = cc.handle(cmd.RejectOffer("ann", "c1"), T0 + 6)
        outcome = OfferOutcome.REJECTED
    else:
        events = cc.handle(cmd.Tick(), T0 + 1 + 20)
        outcome = OfferOutcome.TIMED_OUT

    assert [(e.interaction_id, e.outcome) for e in of_type(events, OfferEnded)] == [("c1", outcome)]
    assert not of_type(events, AgentStatusChanged)
    assert (cc.agents["ann"].presence, cc.agents["ann"].status) == (AgentStatus.AVAILABLE, AgentStatus.BUSY)
    # held back: nothing more is offered while she works on her chats, not even with room for it
    assert [i.id for i in cc.waiting_in("support")] == ["c1", "c3"]
    assert offers(submit(cc, "c4", "support", T0 + 30)) == []
    # letting go of a chat ends the hold-back: the missed chat comes back to her first
    assert offers(cc.handle(cmd.CompleteInteraction("ann", "c0", "", ""), T0 + 31)) == [("c1", "ann"), ("c3", "ann")]


def test_an_agent_held_back_after_a_missed_offer_is_offered_again_when_choosing_available() -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"], chat=2)])
    make_available(cc, "ann", T0)
    submit(cc, "c0", "support", T0)
    submit(cc, "c1", "support", T0 + 1)
    cc.handle(cmd.AcceptOffer("ann", "c0"), T0 + 2)
    cc.handle(cmd.RejectOffer("ann", "c1"), T0 + 3)

    events = cc.handle(cmd.SetPresence("ann", AgentStatus.AVAILABLE), T0 + 4)

    assert offers(events) == [("c1", "ann")]


def test_no_offer_during_wrap_up_unless_the_queue_allows_it() -> None:
    queues = [
        queue("sales", Channel.PHONE, wrap_up=60),
        queue("support", Channel.CHAT),
        queue("vip", Channel.CHAT, offer_during_wrap_up=True),
    ]
    cc = center(queues, [agent("ann", ["sales", "support", "vip"])])
    make_available(cc, "ann", T0)
    submit(cc, "call", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "call"), T0 + 1)
    cc.handle(cmd.EndInteraction("call", "hangup"), T0 + 10)
    assert cc.agents["ann"].status is AgentStatus.WRAP_UP

    assert offers(submit(cc, "chat", "support", T0 + 11)) == []
    assert cc.queue_snapshot("support").ready_agents == 0
    assert offers(submit(cc, "vip-chat", "vip", T0 + 12)) == [("vip-chat", "ann")]
    cc.handle(cmd.AcceptOffer("ann", "vip-chat"), T0 + 13)

    assert offers(cc.handle(cmd.CompleteInteraction("ann", "call", "sale", ""), T0 + 20)) == [("chat", "ann")]


def test_accepting_an_expired_offer_is_refused() -> None:
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 20)


def test_only_the_offered_agent_can_accept() -> None:
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    make_available(cc, "bob", T0 + 1)
    submit(cc, "c1", "sales", T0 + 2)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.AcceptOffer("bob", "c1"), T0 + 3)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.RejectOffer("bob", "c1"), T0 + 3)


def test_end_while_queued_abandons() -> None:
    cc = _two_agents_one_queue()
    submit(cc, "c1", "sales", T0)
    submit(cc, "c2", "sales", T0 + 1)

    events = cc.handle(cmd.EndInteraction("c1", "caller_hung_up"), T0 + 9)

    [abandoned] = of_type(events, InteractionAbandoned)
    assert abandoned.reason == "caller_hung_up"
    assert cc.interactions["c1"].state is InteractionState.ABANDONED
    assert [i.id for i in cc.waiting_in("sales")] == ["c2"]
    assert offers(make_available(cc, "ann", T0 + 10)) == [("c2", "ann")]


def test_end_while_offered_abandons_and_frees_the_agent() -> None:
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    submit(cc, "c2", "sales", T0 + 1)

    events = cc.handle(cmd.EndInteraction("c1", "caller_hung_up"), T0 + 2)

    assert [e.outcome for e in of_type(events, OfferEnded)] == [OfferOutcome.CANCELLED]
    assert cc.interactions["c1"].state is InteractionState.ABANDONED
    assert offers(events) == [("c2", "ann")]
    assert cc.agents["ann"].presence is AgentStatus.AVAILABLE
    assert cc.handle(cmd.Tick(), T0 + 100) != []  # only c2's offer times out; c1's timer is dead
    assert cc.interactions["c1"].state is InteractionState.ABANDONED


def test_end_while_connected_starts_the_queues_wrap_up_then_the_timer_completes() -> None:
    cc = center([queue("sales", wrap_up=45)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)

    events = cc.handle(cmd.EndInteraction("c1", "hangup"), T0 + 100)
    [wrap] = of_type(events, InteractionWrapUpStarted)
    assert (wrap.deadline, wrap.reason) == (T0 + 145, "hangup")
    assert cc.interactions["c1"].state is InteractionState.WRAP_UP
    assert cc.next_deadline() == T0 + 145

    assert cc.handle(cmd.Tick(), T0 + 144) == []
    events = cc.handle(cmd.Tick(), T0 + 145)
    [done] = of_type(events, InteractionCompleted)
    assert done.by_timer
    assert cc.interactions["c1"].state is InteractionState.COMPLETED
    assert cc.agents["ann"].status is AgentStatus.AVAILABLE
    assert cc.next_deadline() is None


def test_complete_during_wrap_up_records_disposition_and_notes() -> None:
    cc = center([queue("sales", wrap_up=45)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    cc.handle(cmd.EndInteraction("c1"), T0 + 10)

    events = cc.handle(cmd.CompleteInteraction("ann", "c1", "sale", "wants blue"), T0 + 20)

    [done] = of_type(events, InteractionCompleted)
    assert (done.disposition, done.by_timer) == ("sale", False)
    c1 = cc.interactions["c1"]
    assert (c1.state, c1.disposition, c1.notes, c1.ended_at, c1.completed_at) == (
        InteractionState.COMPLETED,
        "sale",
        "wants blue",
        T0 + 10,
        T0 + 20,
    )
    assert cc.handle(cmd.Tick(), T0 + 60) == []  # the wrap-up timer is dead


def test_complete_while_connected_ends_and_completes() -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "support", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)

    cc.handle(cmd.CompleteInteraction("ann", "c1", "solved"), T0 + 50)

    c1 = cc.interactions["c1"]
    assert (c1.state, c1.ended_at, c1.end_reason) == (InteractionState.COMPLETED, T0 + 50, "completed_by_agent")


def test_zero_wrap_up_completes_at_once() -> None:
    cc = center([queue("sales", wrap_up=0)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)

    events = cc.handle(cmd.EndInteraction("c1"), T0 + 5)
    assert of_type(events, InteractionWrapUpStarted) == []
    assert cc.interactions["c1"].state is InteractionState.COMPLETED


def test_complete_by_another_agent_or_twice_is_refused() -> None:
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.CompleteInteraction("bob", "c1"), T0 + 2)
    cc.handle(cmd.CompleteInteraction("ann", "c1"), T0 + 3)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.CompleteInteraction("ann", "c1"), T0 + 4)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.EndInteraction("c1"), T0 + 4)


def test_transfer_to_a_queue_requeues_at_the_back_with_that_queues_settings() -> None:
    cc = center(
        [queue("sales", wrap_up=10), queue("billing", priority=2, wrap_up=99)],
        [agent("ann", ["sales"]), agent("bob", ["billing"])],
    )
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    submit(cc, "b0", "billing", T0 + 2)

    events = cc.handle(cmd.TransferToQueue("ann", "c1", "billing"), T0 + 3)

    [moved] = of_type(events, InteractionTransferred)
    assert (moved.from_queue_id, moved.to_queue_id) == ("sales", "billing")
    c1 = cc.interactions["c1"]
    assert (c1.state, c1.queue_id, c1.priority, c1.wrap_up_seconds, c1.enqueued_at) == (
        InteractionState.QUEUED,
        "billing",
        2,
        99,
        T0 + 3,
    )
    assert [i.id for i in cc.waiting_in("billing")] == ["b0", "c1"]  # same priority: b0 was there first
    assert cc.agents["ann"].status is AgentStatus.AVAILABLE
    assert cc.agents["ann"].held_interaction_ids() == []


def test_transfer_is_offered_to_a_ready_agent_of_the_target_queue() -> None:
    cc = center([queue("sales"), queue("billing")], [agent("ann", ["sales"]), agent("bob", ["billing"])])
    make_available(cc, "ann", T0)
    make_available(cc, "bob", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)

    assert offers(cc.handle(cmd.TransferToQueue("ann", "c1", "billing"), T0 + 2)) == [("c1", "bob")]


def test_transfer_needs_a_connected_interaction_on_the_same_channel() -> None:
    cc = center([queue("sales"), queue("support", Channel.CHAT)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.TransferToQueue("ann", "c1", "sales"), T0 + 1)  # only offered
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.TransferToQueue("ann", "c1", "support"), T0 + 2)


def test_click_to_dial_connects_at_once_and_uses_phone_capacity() -> None:
    cc = center([queue("sales"), queue("support", Channel.CHAT)], [agent("ann", ["sales", "support"])])
    make_available(cc, "ann", T0)

    events = cc.handle(cmd.StartOutbound("o1", "ann", "+15551234567"), T0 + 1)

    [created] = of_type(events, InteractionCreated)
    assert (created.direction, created.channel, created.to_address) == (
        Direction.OUTBOUND,
        Channel.PHONE,
        "+15551234567",
    )
    assert cc.interactions["o1"].state is InteractionState.CONNECTED
    assert cc.agents["ann"].status is AgentStatus.BUSY
    assert offers(submit(cc, "p1", "sales", T0 + 2)) == []  # no second call
    assert offers(submit(cc, "c1", "support", T0 + 2)) == [("c1", "ann")]  # chats still come
    with pytest.raises(NoCapacity):
        cc.handle(cmd.StartOutbound("o2", "ann", "+15557654321"), T0 + 3)


def test_click_to_dial_refused_with_a_call_offered_or_when_signed_out() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"]), agent("bob", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "p1", "sales", T0)
    with pytest.raises(NoCapacity):
        cc.handle(cmd.StartOutbound("o1", "ann", "+15551234567"), T0 + 1)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.StartOutbound("o1", "bob", "+15551234567"), T0 + 1)


def test_outbound_call_wraps_up_then_frees_the_agent_for_the_queue() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    cc.handle(cmd.StartOutbound("o1", "ann", "+15551234567", wrap_up_seconds=5), T0)
    submit(cc, "p1", "sales", T0 + 1)
    cc.handle(cmd.EndInteraction("o1"), T0 + 60)
    assert cc.agents["ann"].status is AgentStatus.WRAP_UP
    assert offers(cc.handle(cmd.Tick(), T0 + 65)) == [("p1", "ann")]


def test_outbound_on_break_is_allowed() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    cc.handle(cmd.SignIn("ann"), T0)
    cc.handle(cmd.StartOutbound("o1", "ann", "+15551234567", wrap_up_seconds=0), T0)
    cc.handle(cmd.EndInteraction("o1"), T0 + 5)
    assert cc.agents["ann"].status is AgentStatus.BREAK


@pytest.mark.parametrize("state", ["queued", "offered", "connected"])
def test_fail_ends_the_interaction_from_any_live_state(state: str) -> None:
    cc = _two_agents_one_queue()
    submit(cc, "c1", "sales", T0)
    if state != "queued":
        make_available(cc, "ann", T0 + 1)
    if state == "connected":
        cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 2)

    events = cc.handle(cmd.FailInteraction("c1", "carrier_error"), T0 + 3)

    assert [e.reason for e in of_type(events, InteractionFailed)] == ["carrier_error"]
    assert cc.interactions["c1"].state is InteractionState.FAILED
    assert cc.waiting_in("sales") == []
    assert cc.agents["ann"].held_interaction_ids() == []
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.FailInteraction("c1", "again"), T0 + 4)


def test_failing_an_offered_interaction_ends_the_offer() -> None:
    cc = _two_agents_one_queue()
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)

    events = cc.handle(cmd.FailInteraction("c1", "carrier_error"), T0 + 1)

    assert [(e.interaction_id, e.agent_id, e.outcome) for e in of_type(events, OfferEnded)] == [
        ("c1", "ann", OfferOutcome.CANCELLED)
    ]


def test_final_interactions_are_handed_to_the_store_once_then_forgotten() -> None:
    cc = _two_agents_one_queue()
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.EndInteraction("c1"), T0 + 1)

    changes = cc.take_changes()

    assert [(i.id, i.state) for i in changes.interactions] == [("c1", InteractionState.ABANDONED)]
    assert "c1" not in cc.interactions
    assert cc.take_changes().interactions == []


def test_transferring_agent_takes_their_best_waiting_head_not_their_own_transfer_back() -> None:
    cc = center([queue("sales"), queue("billing")], [agent("ann", ["sales", "billing"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0 + 1)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 2)
    submit(cc, "s1", "sales", T0 + 3, priority=5)

    events = cc.handle(cmd.TransferToQueue("ann", "c1", "billing"), T0 + 4)

    assert offers(events) == [("s1", "ann")]
    assert [i.id for i in cc.waiting_in("billing")] == ["c1"]


def test_transferring_agent_counts_as_just_freed_for_idle_time() -> None:
    cc = center([queue("sales"), queue("billing")], [agent("ann", ["sales", "billing"]), agent("bob", ["billing"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0 + 1)  # ann's idle time restarts at T0 + 1
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 2)
    make_available(cc, "bob", T0 + 5)  # bob idle since T0 + 5

    events = cc.handle(cmd.TransferToQueue("ann", "c1", "billing"), T0 + 60)

    assert offers(events) == [("c1", "bob")]


def test_choosing_available_during_wrap_up_brings_no_offer_from_a_queue_that_waits_for_the_wrap_up() -> None:
    queues = [queue("sales", Channel.PHONE, wrap_up=60), queue("support", Channel.CHAT)]
    cc = center(queues, [agent("ann", ["sales", "support"])])
    make_available(cc, "ann", T0)
    submit(cc, "call", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "call"), T0 + 1)
    cc.handle(cmd.SetPresence("ann", AgentStatus.BREAK, "coffee"), T0 + 2)
    cc.handle(cmd.EndInteraction("call", "hangup"), T0 + 10)
    submit(cc, "chat", "support", T0 + 11)

    assert offers(cc.handle(cmd.SetPresence("ann", AgentStatus.AVAILABLE), T0 + 12)) == []
    assert offers(cc.handle(cmd.CompleteInteraction("ann", "call", "", ""), T0 + 13)) == [("chat", "ann")]
