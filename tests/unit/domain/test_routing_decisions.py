"""Who gets offered what: priority, place in queue, idle time, skills, capacity."""

from __future__ import annotations

from domain_builders import T0, agent, center, make_available, offers, queue, submit

from callbridge.domain import commands as cmd
from callbridge.domain.model import AgentStatus, Channel, InteractionState


def test_higher_priority_is_offered_before_older_interactions() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    submit(cc, "old", "sales", T0)
    submit(cc, "urgent", "sales", T0 + 1, priority=5)
    submit(cc, "newer", "sales", T0 + 2)

    assert offers(make_available(cc, "ann", T0 + 3)) == [("urgent", "ann")]
    assert [i.id for i in cc.waiting_in("sales")] == ["old", "newer"]


def test_queue_priority_is_the_default_priority_of_its_interactions() -> None:
    cc = center([queue("vip", priority=3), queue("sales")], [agent("ann", ["sales", "vip"])])
    submit(cc, "s1", "sales", T0)
    submit(cc, "v1", "vip", T0 + 5)

    assert offers(make_available(cc, "ann", T0 + 6)) == [("v1", "ann")]


def test_equal_priority_goes_oldest_first() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    for n in range(3):
        submit(cc, f"c{n}", "sales", T0 + n)
    assert offers(make_available(cc, "ann", T0 + 3)) == [("c0", "ann")]


def test_same_instant_arrivals_keep_their_arrival_order() -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"], chat=3)])
    for n in range(5):
        submit(cc, f"c{n}", "support", T0)
    assert offers(make_available(cc, "ann", T0)) == [("c0", "ann"), ("c1", "ann"), ("c2", "ann")]


def test_longest_idle_agent_gets_the_next_interaction() -> None:
    cc = center([queue("sales")], [agent(a, ["sales"]) for a in ("ann", "bob", "cat")])
    make_available(cc, "bob", T0)
    make_available(cc, "ann", T0 + 1)
    make_available(cc, "cat", T0 + 2)

    assert offers(submit(cc, "c1", "sales", T0 + 3)) == [("c1", "bob")]
    assert offers(submit(cc, "c2", "sales", T0 + 4)) == [("c2", "ann")]
    assert offers(submit(cc, "c3", "sales", T0 + 5)) == [("c3", "cat")]


def test_idle_time_restarts_when_an_interaction_completes() -> None:
    cc = center([queue("sales", wrap_up=0)], [agent(a, ["sales"]) for a in ("ann", "bob")])
    make_available(cc, "ann", T0)
    make_available(cc, "bob", T0 + 1)
    submit(cc, "c1", "sales", T0 + 2)  # ann, the longest idle
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 3)
    cc.handle(cmd.EndInteraction("c1"), T0 + 4)  # ann idle again since T0+4; bob since T0+1

    assert offers(submit(cc, "c2", "sales", T0 + 5)) == [("c2", "bob")]


def test_skill_levels_decide_who_qualifies() -> None:
    cc = center(
        [queue("es", skills={"spanish": 3})],
        [agent("ann", ["es"], skills={"spanish": 2}), agent("bob", ["es"], skills={"spanish": 4})],
    )
    make_available(cc, "ann", T0)
    make_available(cc, "bob", T0 + 1)

    assert offers(submit(cc, "c1", "es", T0 + 2)) == [("c1", "bob")]
    assert offers(submit(cc, "c2", "es", T0 + 3)) == []  # ann is available but not skilled enough


def test_agent_without_the_skill_is_not_offered_even_as_a_member() -> None:
    cc = center([queue("es", skills={"spanish": 1})], [agent("ann", ["es"])])
    make_available(cc, "ann", T0)
    assert offers(submit(cc, "c1", "es", T0)) == []
    assert cc.interactions["c1"].state is InteractionState.QUEUED


def test_gaining_a_skill_routes_the_waiting_interaction() -> None:
    cc = center([queue("es", skills={"spanish": 1})], [agent("ann", ["es"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "es", T0)

    events = cc.upsert_agent(agent("ann", ["es"], skills={"spanish": 1}), T0 + 1)

    assert offers(events) == [("c1", "ann")]


def test_relaxing_a_queue_requirement_routes_its_waiting_interactions() -> None:
    cc = center([queue("es", skills={"spanish": 5})], [agent("ann", ["es"], skills={"spanish": 2})])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "es", T0)

    assert offers(cc.upsert_queue(queue("es", skills={"spanish": 2}), T0 + 1)) == [("c1", "ann")]


def test_joining_a_queue_routes_its_waiting_interactions() -> None:
    cc = center([queue("sales"), queue("support")], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "support", T0)

    assert offers(cc.upsert_agent(agent("ann", ["sales", "support"]), T0 + 1)) == [("c1", "ann")]


def test_agent_in_several_queues_gets_the_best_head_across_them() -> None:
    cc = center(
        [queue("sales"), queue("support"), queue("billing")],
        [agent("ann", ["sales", "support", "billing"])],
    )
    submit(cc, "s1", "sales", T0 + 2)
    submit(cc, "b1", "billing", T0 + 1)  # oldest
    submit(cc, "u1", "support", T0 + 3, priority=1)  # highest priority

    events = make_available(cc, "ann", T0 + 4)
    assert offers(events) == [("u1", "ann")]
    cc.handle(cmd.RejectOffer("ann", "u1"), T0 + 5)
    events = cc.handle(cmd.SetPresence("ann", AgentStatus.AVAILABLE), T0 + 6)
    assert offers(events) == [("u1", "ann")]


def test_agent_in_several_queues_gets_the_oldest_head_at_equal_priority() -> None:
    cc = center([queue("sales"), queue("billing")], [agent("ann", ["sales", "billing"])])
    submit(cc, "s1", "sales", T0 + 2)
    submit(cc, "b1", "billing", T0 + 1)
    assert offers(make_available(cc, "ann", T0 + 4)) == [("b1", "ann")]


def test_one_call_at_a_time_but_several_chats() -> None:
    cc = center(
        [queue("sales"), queue("support", Channel.CHAT)],
        [agent("ann", ["sales", "support"], phone=1, chat=2)],
    )
    for n in range(2):
        submit(cc, f"p{n}", "sales", T0)
    for n in range(3):
        submit(cc, f"c{n}", "support", T0)

    assert sorted(offers(make_available(cc, "ann", T0 + 1))) == [("c0", "ann"), ("c1", "ann"), ("p0", "ann")]
    assert [i.id for i in cc.waiting_in("sales")] == ["p1"]
    assert [i.id for i in cc.waiting_in("support")] == ["c2"]


def test_a_chat_agent_takes_new_chats_while_busy_until_full() -> None:
    cc = center([queue("support", Channel.CHAT)], [agent("ann", ["support"], chat=2)])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "support", T0)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)

    assert offers(submit(cc, "c2", "support", T0 + 2)) == [("c2", "ann")]
    assert offers(submit(cc, "c3", "support", T0 + 3)) == []


def test_zero_capacity_on_a_channel_means_no_offers_on_it() -> None:
    cc = center([queue("vm", Channel.VOICEMAIL)], [agent("ann", ["vm"], voicemail=0)])
    make_available(cc, "ann", T0)
    assert offers(submit(cc, "v1", "vm", T0)) == []


def test_freed_capacity_is_offered_the_next_waiting_interaction() -> None:
    cc = center([queue("sales", wrap_up=10)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)
    submit(cc, "c2", "sales", T0 + 1)
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 2)
    cc.handle(cmd.EndInteraction("c1"), T0 + 3)

    assert offers(cc.handle(cmd.Tick(), T0 + 12)) == []
    assert offers(cc.handle(cmd.Tick(), T0 + 13)) == [("c2", "ann")]


def test_a_new_interaction_goes_to_a_ready_agent_at_once() -> None:
    cc = center([queue("sales")], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    events = submit(cc, "c1", "sales", T0 + 1)
    assert offers(events) == [("c1", "ann")]
    assert cc.waiting_in("sales") == []
    assert cc.decisions == 1


def test_queue_snapshot_counts_waiting_and_ready() -> None:
    cc = center([queue("sales"), queue("support", Channel.CHAT)], [agent("ann", ["support"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0 + 1)
    submit(cc, "c2", "sales", T0 + 2)

    sales = cc.queue_snapshot("sales")
    assert (sales.waiting, sales.oldest_enqueued_at, sales.ready_agents) == (2, T0 + 1, 0)
    assert cc.queue_snapshot("support").ready_agents == 1


def test_offers_sent_back_from_several_queues_go_out_best_first() -> None:
    # ann holds offers from two chat queues; bob, in both, has room for one chat.
    cc = center(
        [queue("general", Channel.CHAT), queue("vip", Channel.CHAT, priority=5)],
        [agent("ann", ["general", "vip"], chat=2), agent("bob", ["general", "vip"], chat=1)],
    )
    make_available(cc, "ann", T0)
    submit(cc, "g1", "general", T0 + 1)
    submit(cc, "v1", "vip", T0 + 2)
    cc.handle(cmd.SignIn("bob"), T0 + 3)
    cc.handle(cmd.SetPresence("bob", AgentStatus.AVAILABLE), T0 + 3)
    assert cc.agents["bob"].held_interaction_ids() == []

    events = cc.handle(cmd.RejectOffer("ann", "v1"), T0 + 4)  # g1 goes back with it

    assert offers(events) == [("v1", "bob")]
    assert [i.id for i in cc.waiting_in("general")] == ["g1"]


def test_agent_leaving_with_offers_from_several_queues_hands_them_out_best_first() -> None:
    for first, second in (("g1", "v1"), ("v1", "g1")):
        cc = center(
            [queue("general", Channel.CHAT), queue("vip", Channel.CHAT, priority=5)],
            [agent("ann", ["general", "vip"], chat=2), agent("bob", ["general", "vip"], chat=1)],
        )
        make_available(cc, "ann", T0)
        submit(cc, first, "vip" if first == "v1" else "general", T0 + 1)
        submit(cc, second, "vip" if second == "v1" else "general", T0 + 2)
        make_available(cc, "bob", T0 + 3)

        events = cc.handle(cmd.SetPresence("ann", AgentStatus.WORKING_OFFLINE), T0 + 4)

        assert offers(events) == [("v1", "bob")]


def test_a_reused_interaction_id_is_not_expired_by_the_old_offers_timer() -> None:
    cc = center([queue("sales", wrap_up=0)], [agent("ann", ["sales"])])
    make_available(cc, "ann", T0)
    submit(cc, "c1", "sales", T0)  # offer c1.1, deadline T0 + 20
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 1)
    cc.handle(cmd.EndInteraction("c1"), T0 + 2)
    cc.take_changes()  # c1 is final: saved and forgotten

    submit(cc, "c1", "sales", T0 + 10)  # a new c1, offered again as c1.1, deadline T0 + 30

    assert cc.handle(cmd.Tick(), T0 + 20) == []
    assert cc.interactions["c1"].state is InteractionState.OFFERED
    cc.handle(cmd.AcceptOffer("ann", "c1"), T0 + 25)
