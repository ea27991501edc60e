"""A refused command raises a DomainError and changes nothing at all."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest
from domain_builders import T0, agent, center, make_available, queue, submit

from callbridge.domain import commands as cmd
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import DomainError, InvalidTransition, NoCapacity, NotFound
from callbridge.domain.model import AgentStatus, Channel


def _state(cc: ContactCenter) -> Any:
    return (
        sorted((k, asdict(v)) for k, v in cc.interactions.items()),
        sorted((a, cc.agent_snapshot(a), cc.agents[a].presence, cc.agents[a].reason) for a in cc.agents),
        [cc.queue_snapshot(q) for q in sorted(cc.queues)],
        [[i.id for i in cc.waiting_in(q)] for q in sorted(cc.queues)],
        cc.decisions,
        cc.next_deadline(),
    )


def _busy_center() -> ContactCenter:
    """ann on a call, bob with a chat offer, cat signed out, dan disabled; one call and one chat waiting."""
    cc = center(
        [queue("sales"), queue("support", Channel.CHAT), queue("es", skills={"spanish": 2})],
        [
            agent("ann", ["sales"]),
            agent("bob", ["support"], chat=1),
            agent("cat", ["sales"]),
            agent("dan", ["sales"], enabled=False),
        ],
    )
    make_available(cc, "ann", T0)
    make_available(cc, "bob", T0)
    submit(cc, "p1", "sales", T0 + 1)
    cc.handle(cmd.AcceptOffer("ann", "p1"), T0 + 2)
    submit(cc, "c1", "support", T0 + 3)
    submit(cc, "p2", "sales", T0 + 4)
    submit(cc, "c2", "support", T0 + 5)
    cc.take_changes()
    return cc


REFUSED: list[tuple[cmd.Command, type[DomainError]]] = [
    (cmd.SignIn("nobody"), NotFound),
    (cmd.SignIn("dan"), InvalidTransition),
    (cmd.SetPresence("cat", AgentStatus.AVAILABLE), InvalidTransition),
    (cmd.SetPresence("ann", AgentStatus.BUSY), InvalidTransition),
    (cmd.SetPresence("nobody", AgentStatus.BREAK), NotFound),
    (cmd.SignOut("ann"), InvalidTransition),
    (cmd.ReportConnectionLost("nobody"), NotFound),
    (cmd.SubmitInteraction("p1", "sales", Channel.PHONE), InvalidTransition),
    (cmd.SubmitInteraction("x", "nowhere", Channel.PHONE), NotFound),
    (cmd.SubmitInteraction("x", "sales", Channel.CHAT), InvalidTransition),
    (cmd.StartOutbound("o1", "ann", "+15550000000"), NoCapacity),
    (cmd.StartOutbound("o1", "cat", "+15550000000"), InvalidTransition),
    (cmd.StartOutbound("o1", "bob", "+15550000000", queue_id="nowhere"), NotFound),
    (cmd.StartOutbound("p2", "bob", "+15550000000"), InvalidTransition),
    (cmd.AcceptOffer("ann", "c1"), InvalidTransition),
    (cmd.AcceptOffer("bob", "p2"), InvalidTransition),
    (cmd.AcceptOffer("bob", "nothing"), NotFound),
    (cmd.RejectOffer("ann", "p1"), InvalidTransition),
    (cmd.EndInteraction("nothing"), NotFound),
    (cmd.CompleteInteraction("bob", "p1"), InvalidTransition),
    (cmd.CompleteInteraction("bob", "c1"), InvalidTransition),
    (cmd.TransferToQueue("ann", "p1", "nowhere"), NotFound),
    (cmd.TransferToQueue("ann", "p1", "support"), InvalidTransition),
    (cmd.TransferToQueue("bob", "c1", "support"), InvalidTransition),
    (cmd.FailInteraction("nothing", "x"), NotFound),
]


@pytest.mark.parametrize(
    ("command", "error"), REFUSED, ids=[f"{type(c).__name__}-{n}" for n, (c, _) in enumerate(REFUSED)]
)
def test_refused_command_changes_nothing(command: cmd.Command, error: type[DomainError]) -> None:
    cc = _busy_center()
    before = _state(cc)

    with pytest.raises(error):
        cc.handle(command, T0 + 10)

    assert _state(cc) == before
    changes = cc.take_changes()
    assert (changes.interactions, changes.agents) == ([], [])


def test_expired_offer_refused_then_expired_by_tick() -> None:
    cc = _busy_center()
    before = _state(cc)
    with pytest.raises(InvalidTransition):
        cc.handle(cmd.AcceptOffer("bob", "c1"), T0 + 3 + 20)
    assert _state(cc) == before
    cc.handle(cmd.Tick(), T0 + 3 + 20)
    assert cc.agents["bob"].status_reason == "missed_offer"


def test_ended_interaction_cannot_be_ended_or_failed_again() -> None:
    cc = _busy_center()
    cc.handle(cmd.EndInteraction("p2"), T0 + 10)
    before = _state(cc)
    for command in (cmd.EndInteraction("p2"), cmd.FailInteraction("p2", "x"), cmd.AcceptOffer("cat", "p2")):
        with pytest.raises(InvalidTransition):
            cc.handle(command, T0 + 11)
    assert _state(cc) == before


def test_queue_channel_cannot_change_while_it_holds_interactions() -> None:
    cc = _busy_center()
    before = _state(cc)
    with pytest.raises(InvalidTransition):
        cc.upsert_queue(queue("sales", Channel.CHAT), T0 + 10)
    with pytest.raises(InvalidTransition):
        cc.remove_queue("sales", T0 + 10)
    with pytest.raises(NotFound):
        cc.remove_queue("nowhere", T0 + 10)
    with pytest.raises(InvalidTransition):
        cc.remove_agent("ann")
    assert _state(cc) == before
