"""Agent presence and the status others see."""

from __future__ import annotations

import pytest
from domain_builders import T0, agent, center, make_available, of_type, offers, queue, submit

from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition
from callbridge.domain.events import AgentPresenceChanged, AgentStatusChanged, InteractionQueued, OfferEnded
from callbridge.domain.model import AgentStatus, Channel, InteractionState, OfferOutcome


def test_sign_in_leaves_the_agent_on_break_signed_in_and_offers_nothing() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    submit(cc, "c1", "sales", T0)

    events = cc.handle(cmd.SignIn("ann"), T0 + 1)

    assert cc.agents["ann"].status is AgentStatus.BREAK
    assert cc.agents["ann"].status_reason == "signed_in"
    assert offers(events) == []
    assert cc.interactions["c1"].state is InteractionState.QUEUED
    [change] = of_type(events, AgentStatusChanged)
    assert (change.previous_status, change.status, change.reason) == (
        AgentStatus.LOGGED_OUT,
        AgentStatus.BREAK,
        "signed_in",
    )


def test_signing_in_twice_changes_nothing() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    cc.handle(cmd.SignIn("ann"), T0)
    assert cc.handle(cmd.SignIn("ann"), T0 + 5) == []
    assert cc.agents["ann"].status_since == T0


def test_available_agent_gets_the_waiting_interaction() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    submit(cc, "c1", "sales", T0)

    events = make_available(cc, "ann", T0 + 1)

    assert offers(events) == [("c1", "ann")]
    assert cc.interactions["c1"].state is InteractionState.OFFERED
    assert cc.interactions["c1"].offer_deadline == T0 + 1 + 20


def test_working_offline_agent_is_never_offered_anything() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    cc.handle(cmd.SignIn("ann"), T0)
    cc.handle(cmd.SetPresence("ann", AgentStatus.WORKING_OFFLINE), T0)

    events = submit(cc, "c1", "sales", T0 + 1)

    assert offers(events) == []
    assert cc.agents["ann"].status is AgentStatus.WORKING_OFFLINE
    assert [i.id for i in cc.waiting_in("sales")] == ["c1"]


def test_going_on_break_puts_pending_offers_back_in_their_place() -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"], chat=2)])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "support", T0 + 1)
    submit(cc, "c2", "support", T0 + 2)
    submit(cc, "c3", "support", T0 + 3)

    events = cc.handle(cmd.SetPresence("ann", AgentStatus.BREAK, "lunch"), T0 + 4)

    assert {e.interaction_id: e.outcome for e in of_type(events, OfferEnded)} == {
        "c1": OfferOutcome.AGENT_LEFT,
        "c2": OfferOutcome.AGENT_LEFT,
    }
    assert [i.id for i in cc.waiting_in("support")] == ["c1", "c2", "c3"]
    assert cc.agents["ann"].status_reason == "lunch"
    assert cc.agents["ann"].held_interaction_ids() == []


def test_busy_while_connected_then_wrap_up_then_back_to_presence() -> None:
    cc = center([queue("sales", wrap_up=30)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)

    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 2)
    assert cc.agents["ann"].status is AgentStatus.BUSY
    cc.handle(cmd.EndInteraction("c1"), T0 + 60)
    assert cc.agents["ann"].status is AgentStatus.WRAP_UP
    cc.handle(cmd.Tick(), T0 + 90)
    assert cc.agents["ann"].status is AgentStatus.AVAILABLE


def test_break_chosen_during_a_call_shows_after_the_call() -> None:
    cc = center([queue("sales", wrap_up=0)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)

    chosen = cc.handle(cmd.SetPresence("ann", AgentStatus.BREAK, "coffee"), T0 + 2)
    assert chosen == [AgentPresenceChanged("acme", T0 + 2, "ann", AgentStatus.BREAK, "coffee")], "no status change"
    assert cc.agents["ann"].status is AgentStatus.BUSY

    events = cc.handle(cmd.EndInteraction("c1"), T0 + 3)
    [change] = of_type(events, AgentStatusChanged)
    assert (change.previous_status, change.status, change.reason) == (AgentStatus.BUSY, AgentStatus.BREAK, "coffee")


def test_several_chats_wrap_up_only_when_none_is_connected() -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"], chat=2)])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "support", T0)
    submit(cc, "c2", "support", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    cc.handle(cmd.AcceptOffer("ann", "c2"), T0 + 1)

    cc.handle(cmd.EndInteraction("c1"), T0 + 5)
    assert cc.agents["ann"].status is AgentStatus.BUSY
    cc.handle(cmd.EndInteraction("c2"), T0 + 6)
    assert cc.agents["ann"].status is AgentStatus.WRAP_UP


@pytest.mark.parametrize("presence", [AgentStatus.BUSY, AgentStatus.WRAP_UP, AgentStatus.LOGGED_OUT])
def test_derived_statuses_cannot_be_chosen(presence: AgentStatus) -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    cc.handle(cmd.SignIn("ann"), T0)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.SetPresence("ann", presence), T0)


def test_signed_out_agent_cannot_choose_a_presence() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.SetPresence("ann", AgentStatus.AVAILABLE), T0)


def test_sign_out_requeues_pending_offers() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)

    events = cc.handle(cmd.SignOut("ann"), T0 + 1)

    assert cc.agents["ann"].status is AgentStatus.LOGGED_OUT
    assert [i.id for i in cc.waiting_in("sales")] == ["c1"]
    assert [e.requeued for e in of_type(events, InteractionQueued)] == [True]


def test_sign_out_refused_while_handling_an_interaction() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.SignOut("ann"), T0 + 2)


def test_connection_lost_requeues_offers_and_puts_the_agent_on_break() -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"]), agent("bob", ["support"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "support", T0 + 1)
    submit(cc, "c2", "support", T0 + 2)

    events = cc.handle(cmd.ReportConnectionLost("ann"), T0 + 3)

    assert {(e.interaction_id, e.outcome) for e in of_type(events, OfferEnded)} == {
        ("c1", OfferOutcome.CONNECTION_LOST),
        ("c2", OfferOutcome.CONNECTION_LOST),
    }
    assert cc.agents["ann"].status is AgentStatus.BREAK
    assert cc.agents["ann"].status_reason == "connection_lost"
    assert [i.id for i in cc.waiting_in("support")] == ["c1", "c2"]

    assert offers(make_available(cc, "bob", T0 + 4)) == [("c1", "bob"), ("c2", "bob")]


def test_connection_lost_keeps_connected_calls() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)

    cc.handle(cmd.ReportConnectionLost("ann"), T0 + 2)

    assert cc.interactions["c1"].state is InteractionState.CONNECTED
    assert cc.agents["ann"].status is AgentStatus.BUSY
    assert cc.agents["ann"].presence is AgentStatus.BREAK


def test_disabling_an_agent_signs_them_out_and_requeues_offers() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)

    cc.upsert_agent(agent("ann", ["sales"], enabled=False), T0 + 1)

    assert cc.agents["ann"].status is AgentStatus.LOGGED_OUT
    assert [i.id for i in cc.waiting_in("sales")] == ["c1"]
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.SignIn("ann"), T0 + 2)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.SetPresence("ann", AgentStatus.AVAILABLE), T0 + 2)


def test_disabling_an_agent_on_a_call_lets_the_call_finish() -> None:
    cc = center([queue("sales", wrap_up=0)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)

    cc.upsert_agent(agent("ann", ["sales"], enabled=False), T0 + 2)
    assert cc.agents["ann"].status is AgentStatus.BUSY
    cc.handle(cmd.EndInteraction("c1"), T0 + 3)

    assert cc.agents["ann"].status is AgentStatus.LOGGED_OUT
    submit(cc, "c2", "sales", T0 + 4)
    assert cc.interactions["c2"].state is InteractionState.QUEUED


def test_re_enabled_agent_stays_signed_out_until_sign_in() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"], enabled=False)])
    cc.upsert_agent(agent("ann", ["sales"]), T0)
    assert cc.agents["ann"].status is AgentStatus.LOGGED_OUT
    assert offers(make_available(cc, "ann", T0 + 1)) == []
    assert cc.agents["ann"].status is AgentStatus.AVAILABLE


def test_status_events_chain_from_the_previous_status() -> None:
    cc = center([queue("sales", wrap_up=10)], [agent("ann", ["sales"])])
    events = make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0 + 1)
    events += cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 2)
    events += cc.handle(cmd.EndInteraction("c1"), T0 + 3)
    events += cc.handle(cmd.Tick(), T0 + 13)

    changes = of_type(events, AgentStatusChanged)
    assert [c.status for c in changes] == [
        AgentStatus.BREAK,
        AgentStatus.AVAILABLE,
        AgentStatus.BUSY,
        AgentStatus.WRAP_UP,
        AgentStatus.AVAILABLE,
    ]
    for before, after in zip(changes, changes[1:], strict=False):
        assert after.previous_status is before.status
        assert after.previous_since == before.at
