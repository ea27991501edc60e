"""Events say which interaction, agent and queues they concern; listeners rely on it to tell the right people."""

from __future__ import annotations

from callbridge.domain import events as ev
from callbridge.domain.model import AgentStatus


def test_an_offer_concerns_its_interaction_agent_and_queue() -> None:
    offer = ev.InteractionOffered(
        "t", 1.0, interaction_id="i1", queue_id="q1", agent_id="a1", offer_id="o1", deadline=2
    )

    assert (offer.about_interaction, offer.about_agent, offer.about_queues) == ("i1", "a1", ["q1"])


def test_a_transfer_concerns_both_queues_and_a_missing_one_is_left_out() -> None:
    both = ev.InteractionTransferred("t", 1.0, interaction_id="i1", agent_id="a1", from_queue_id="q1", to_queue_id="q2")
    from_nowhere = ev.InteractionTransferred(
        "t", 1.0, interaction_id="i1", agent_id="a1", from_queue_id=None, to_queue_id="q2"
    )

    assert both.about_queues == ["q1", "q2"]
    assert from_nowhere.about_queues == ["q2"]
    assert from_nowhere.about_agent == "a1"


def test_a_status_change_concerns_its_agent_and_no_interaction() -> None:
    change = ev.AgentStatusChanged(
        "t",
        1.0,
        agent_id="a1",
        status=AgentStatus.AVAILABLE,
        reason="",
        previous_status=AgentStatus.LOGGED_OUT,
        previous_since=0.0,
    )

    assert (change.about_interaction, change.about_agent, change.about_queues) == (None, "a1", [])
