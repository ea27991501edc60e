"""A blind transfer to a colleague: offered to them at once; a missed offer waits in the interaction's queue."""

from __future__ import annotations

import pytest
from domain_builders import T0, agent, center, make_available, of_type, offers, queue, submit

from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.domain.events import InteractionTransferred
from callbridge.domain.model import AgentStatus, InteractionState


def _connected_to_ann():  # type: ignore[no-untyped-def]
    cc = center([queue("sales")], [agent("ann", ["sales"]), agent("bob", ["sales"]), agent("cid", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    return cc


def test_the_call_is_offered_to_the_colleague_even_when_others_wait_longer() -> None:
    cc = _connected_to_ann()
    make_available(cc, "cid", T0 + 2)  # idle longer than bob: the queue would choose cid
    make_available(cc, "bob", T0 + 3)

    events = cc.handle(cmd.TransferToAgent("ann", "c1", "bob"), T0 + 4)

    [moved] = of_type(events, InteractionTransferred)
    assert (moved.agent_id, moved.from_queue_id, moved.to_queue_id, moved.to_agent_id) == (
        "ann",
        "sales",
        "sales",
        "bob",
    )
    assert offers(events) == [("c1", "bob")]
    c1 = cc.interactions["c1"]
    assert (c1.state, c1.agent_id) == (InteractionState.OFFERED, "bob")
    assert cc.agents["ann"].held_interaction_ids() == []
    assert cc.agents["ann"].status is AgentStatus.AVAILABLE


def test_a_missed_transfer_waits_in_the_queue_for_the_next_agent() -> None:
    cc = _connected_to_ann()
    make_available(cc, "bob", T0 + 2)
    cc.handle(cmd.TransferToAgent("ann", "c1", "bob"), T0 + 3)
    make_available(cc, "cid", T0 + 4)

    events = cc.handle(cmd.RejectOffer("bob", "c1"), T0 + 5)

    assert ("c1", "cid") in offers(events) or ("c1", "ann") in offers(events)


def test_transfer_to_an_agent_who_cannot_take_it_changes_nothing() -> None:
    cc = _connected_to_ann()  # bob is signed out
    with pytest.raises(InvalidTransition, match="bob"):
        cc.handle(cmd.TransferToAgent("ann", "c1", "bob"), T0 + 2)
    with pytest.raises(NotFound):
        cc.handle(cmd.TransferToAgent("ann", "c1", "nobody"), T0 + 2)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.TransferToAgent("ann", "c1", "ann"), T0 + 2)
    c1 = cc.interactions["c1"]
    assert (c1.state, c1.agent_id) == (InteractionState.CONNECTED, "ann")


def test_only_a_connected_interaction_can_be_transferred_to_an_agent() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"]), agent("bob", ["sales"])])
    make_available(cc, "ann", T0)
    make_available(cc, "bob", T0)
    submit(cc, "c1", "sales", T0)
    offered_to = cc.interactions["c1"].agent_id
    other = "bob" if offered_to == "ann" else "ann"
    with pytest.raises(InvalidTransition, match="only a conversation in progress"):
        cc.handle(cmd.TransferToAgent(offered_to or "", "c1", other), T0 + 1)
