"""A warm transfer's consult: the colleague consulted is busy (offered no call) until the consult ends by
cancel or decline (EndConsult), by completing it (TransferToAgent to them), or with the call itself."""

from __future__ import annotations

import pytest
from domain_builders import T0, agent, center, make_available, of_type, offers, queue, submit

from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition, NoCapacity, NotFound
from callbridge.domain.events import AgentStatusChanged
from callbridge.domain.model import AgentStatus, Channel, InteractionState


def _ann_consults_bob():  # type: ignore[no-untyped-def]
    """c1 connected to ann, who consults bob (available, idle, in the same queue); c2 comes in meanwhile."""
    cc = center(
        [queue("sales"), queue("chat", Channel.CHAT)],
        [agent("ann", ["sales"]), agent("bob", ["sales", "chat"]), agent("cid", ["sales"])],
    )
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    make_available(cc, "bob", T0 + 2)
    events = cc.handle(cmd.StartConsult("ann", "c1", "bob"), T0 + 3)
    assert [(e.agent_id, e.status) for e in of_type(events, AgentStatusChanged)] == [("bob", AgentStatus.BUSY)]
    assert offers(submit(cc, "c2", "sales", T0 + 4)) == []  # bob is available, but talking to ann
    return cc


def test_the_consulted_agent_is_busy_and_offered_no_call_until_the_consult_is_cancelled() -> None:
    cc = _ann_consults_bob()
    bob = cc.agents["bob"]
    assert bob.status is AgentStatus.BUSY
    assert not bob.is_ready_for(Channel.PHONE)
    assert cc.queue_snapshot("sales").ready_agents == 0
    assert cc.interactions["c2"].state is InteractionState.QUEUED
    assert offers(submit(cc, "m1", "chat", T0 + 5)) == [("m1", "bob")]  # a consult takes a phone place only

    events = cc.handle(cmd.EndConsult("ann", "c1", "bob"), T0 + 6)  # cancelled, declined or not answered

    assert offers(events) == [("c2", "bob")]
    assert bob.consulted_on == set()
    assert cc.interactions["c1"].agent_id == "ann"
    assert cc.interactions["c1"].state is InteractionState.CONNECTED
    with pytest.raises(InvalidTransition, match="no consult"):
        cc.handle(cmd.EndConsult("ann", "c1", "bob"), T0 + 7)


def test_completing_the_consult_gives_the_call_to_the_consulted_agent_and_nothing_else() -> None:
    cc = _ann_consults_bob()

    events = cc.handle(cmd.TransferToAgent("ann", "c1", "bob"), T0 + 6)
    events += cc.handle(cmd.AcceptOffer("bob", "c1"), T0 + 6)

    assert ("c1", "bob") in offers(events)
    assert ("c2", "bob") not in offers(events)
    assert ("c2", "ann") in offers(events)  # ann is free: the waiting call is hers
    bob = cc.agents["bob"]
    assert bob.consulted_on == set()
    assert (cc.interactions["c1"].state, cc.interactions["c1"].agent_id) == (InteractionState.CONNECTED, "bob")
    assert bob.status is AgentStatus.BUSY
    with pytest.raises(InvalidTransition, match="no consult"):
        cc.handle(cmd.EndConsult("ann", "c1", "bob"), T0 + 7)


def test_the_consulted_agent_is_free_when_the_call_ends_during_the_consult() -> None:
    cc = _ann_consults_bob()

    events = cc.handle(cmd.EndInteraction("c1", "caller hung up"), T0 + 6)

    assert offers(events) == [("c2", "bob")]
    assert cc.agents["ann"].status is AgentStatus.WRAP_UP


def test_a_failed_call_frees_the_consulted_agent() -> None:
    cc = _ann_consults_bob()
    cc.handle(cmd.FailInteraction("c1", "media lost"), T0 + 6)
    assert cc.interactions["c2"].agent_id == "bob"


def test_consults_that_cannot_be_change_nothing() -> None:
    cc = _ann_consults_bob()
    cc.take_changes()
    with pytest.raises(InvalidTransition, match="already in a consult"):
        cc.handle(cmd.StartConsult("ann", "c1", "cid"), T0 + 6)
    with pytest.raises(InvalidTransition, match="complete them before signing out"):
        cc.handle(cmd.SignOut("bob"), T0 + 6)
    cc.handle(cmd.EndConsult("ann", "c1", "bob"), T0 + 6)  # bob takes c2
    with pytest.raises(NoCapacity, match="bob"):
        cc.handle(cmd.StartConsult("ann", "c1", "bob"), T0 + 7)  # offered c2: on the phone
    with pytest.raises(InvalidTransition, match="signed out"):
        cc.handle(cmd.StartConsult("ann", "c1", "cid"), T0 + 7)
    with pytest.raises(InvalidTransition, match="yourself"):
        cc.handle(cmd.StartConsult("ann", "c1", "ann"), T0 + 7)
    with pytest.raises(NotFound):
        cc.handle(cmd.StartConsult("ann", "c1", "nobody"), T0 + 7)
    with pytest.raises(InvalidTransition, match="not connected to agent 'cid'"):
        cc.handle(cmd.StartConsult("cid", "c1", "bob"), T0 + 7)
    assert cc.agents["cid"].consulted_on == set()
    assert cc.agents["cid"].status is AgentStatus.LOGGED_OUT


def test_a_consulted_agent_on_break_stays_on_break_afterwards() -> None:
    cc = _ann_consults_bob()
    cc.handle(cmd.SetPresence("bob", AgentStatus.BREAK, "lunch"), T0 + 5)
    assert cc.agents["bob"].status is AgentStatus.BUSY  # still talking to ann
    cc.handle(cmd.EndConsult("ann", "c1", "bob"), T0 + 6)
    assert cc.agents["bob"].status is AgentStatus.BREAK
    assert cc.interactions["c2"].state is InteractionState.QUEUED


def test_a_colleague_wrapping_up_another_call_can_be_consulted_and_stays_busy_after_the_wrap_up() -> None:
    cc = center([queue("sales", wrap_up=10)], [agent("ann", ["sales"]), agent("bob", ["sales"])])
    make_available(cc, "bob", T0)
    submit(cc, "c0", "sales", T0)
    cc.handle(cmd.AcceptOffer("bob", "c0"), T0)
    cc.handle(cmd.EndInteraction("c0"), T0 + 1)  # bob wraps up until T0 + 11
    make_available(cc, "ann", T0 + 2)
    submit(cc, "c1", "sales", T0 + 2)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 2)

    cc.handle(cmd.StartConsult("ann", "c1", "bob"), T0 + 3)
    submit(cc, "c2", "sales", T0 + 4)
    events = cc.handle(cmd.Tick(), T0 + 12)  # bob's wrap-up ends during the consult

    assert offers(events) == []
    assert cc.agents["bob"].status is AgentStatus.BUSY
    assert offers(cc.handle(cmd.EndConsult("ann", "c1", "bob"), T0 + 13)) == [("c2", "bob")]
