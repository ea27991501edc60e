"""Transfers of a connected call: what the caller hears (agent A, hold music, agent B) is what is checked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.voice.conftest import AGENT_TONE, VoiceSystem, wait_for
from tests.voice.test_calls import AGENT_HEARS, HOLD_MUSIC, caller_for, interaction, labels_of, runs

from callbridge.store.tables import interaction_events

SECOND_AGENT_TONE = 1800.0
CALLER_HEARS = {"music": HOLD_MUSIC, "agent": (AGENT_TONE,), "second": (SECOND_AGENT_TONE,)}


def desk_phone(system: VoiceSystem, tenant: Any, agent_id: str, tone: float, answer: str = "auto") -> Any:
    username = system.desk_phone(tenant, agent_id)
    phone = system.baresip(
        f"{tenant.id}-{agent_id}-phone",
        tone,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode={answer};regint=600",
    )
    wait_for(lambda: system.registered(username), f"{agent_id}'s desk phone to register")
    return phone


def connected_call(system: VoiceSystem, tenant: Any, name: str) -> tuple[Any, dict[str, Any]]:
    caller = caller_for(system, name)
    number = system.voice.directory.numbers(tenant.id)[0].number
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    call = wait_for(
        lambda: (found := interaction(system, tenant.id)) and found["state"] == "connected" and found,
        "agent1 to answer",
    )
    wait_for(lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-1:] == ["agent"], "the caller to hear agent1")
    return caller, call


def test_a_blind_transfer_to_a_queue_puts_the_caller_back_on_music_and_rings_the_next_agent(
    voice_system: VoiceSystem,
) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    first = desk_phone(system, tenant, "agent1", AGENT_TONE)
    second = desk_phone(system, tenant, "agent2", SECOND_AGENT_TONE)
    agent1 = tenant.agent("agent1")
    caller, call = connected_call(system, tenant, "transferred-caller")
    agent2 = tenant.agent("agent2")
    # agent1 steps away, so the queue's next agent is agent2
    response = system.harness.client.put("/api/v1/me/status", json={"status": "break"}, headers=agent1)
    assert response.status_code == 200, response.text

    transferred = system.harness.client.post(
        f"/api/v1/me/interactions/{call['id']}/transfer", json={"target": "sales"}, headers=agent1
    )
    assert transferred.status_code == 204, transferred.text
    wait_for(lambda: first.saw("CALL_CLOSED"), "agent1's phone to be hung up")
    wait_for(
        lambda: (
            (found := interaction(system, tenant.id))
            and found["agent_id"] == "agent2"
            and found["state"] == "connected"
        ),
        "agent2 to answer",
    )
    wait_for(
        lambda: (
            runs(labels_of(caller.heard(), CALLER_HEARS))[-2:] == ["agent", "second"]
            or runs(labels_of(caller.heard(), CALLER_HEARS))[-3:] == ["agent", "music", "second"]
        ),
        "the caller to hear agent2",
    )
    wait_for(lambda: "caller" in runs(labels_of(second.heard(), AGENT_HEARS)), "agent2 to hear the caller")
    assert ("transferred", "agent1", "sales") in logged(system, tenant.id, call["id"])
    assert agent2  # signed in and available: the node chose them
    caller.command("hangup")
    wait_for(lambda: second.saw("CALL_CLOSED"), "agent2's phone to be hung up")


def logged(system: VoiceSystem, tenant_id: str, interaction_id: str) -> list[tuple[str, str | None, str | None]]:
    """The interaction's log, as reports read it."""
    with system.harness.services.engine.connect() as connection:
        rows = connection.execute(
            select(interaction_events.c.type, interaction_events.c.agent_id, interaction_events.c.queue_id)
            .where(interaction_events.c.tenant_id == tenant_id, interaction_events.c.interaction_id == interaction_id)
            .order_by(interaction_events.c.at)
        ).all()
    return [tuple(row) for row in rows]


def test_a_blind_transfer_to_an_agent_rings_that_agents_phone(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    first = desk_phone(system, tenant, "agent1", AGENT_TONE)
    second = desk_phone(system, tenant, "agent2", SECOND_AGENT_TONE)
    agent1 = tenant.agent("agent1")
    caller, call = connected_call(system, tenant, "caller-for-a-colleague")
    url = f"/api/v1/me/interactions/{call['id']}/transfer"
    refused = system.harness.client.post(url, json={"target": "agent2"}, headers=agent1)  # not signed in
    assert refused.status_code == 409, refused.text
    assert "agent2" in refused.json()["message"]
    tenant.agent("agent2")

    transferred = system.harness.client.post(url, json={"target": "agent2"}, headers=agent1)
    assert transferred.status_code == 204, transferred.text
    wait_for(lambda: first.saw("CALL_CLOSED"), "agent1's phone to be hung up")
    wait_for(lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-1:] == ["second"], "the caller to hear agent2")
    wait_for(lambda: "caller" in runs(labels_of(second.heard(), AGENT_HEARS)), "agent2 to hear the caller")
    found = interaction(system, tenant.id)
    assert found is not None
    assert (found["state"], found["agent_id"]) == ("connected", "agent2")
    again = system.harness.client.post(url, json={"target": "sales"}, headers=agent1)  # no longer agent1's call
    assert again.status_code == 409, again.text
    caller.command("hangup")
    wait_for(lambda: second.saw("CALL_CLOSED"), "agent2's phone to be hung up")


def test_a_call_still_waiting_cannot_be_transferred(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant()
    agent1 = tenant.agent("agent1", available=False)
    caller = caller_for(system, "caller-still-waiting")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    waiting = wait_for(lambda: interaction(system, tenant.id), "the interaction")
    refused = system.harness.client.post(
        f"/api/v1/me/interactions/{waiting['id']}/transfer", json={"target": "sales"}, headers=agent1
    )
    assert refused.status_code == 409, refused.text
    assert "only a conversation in progress can be transferred" in refused.json()["message"]
    caller.command("hangup")
    wait_for(lambda: interaction(system, tenant.id) is None, "the interaction to end")


OUTSIDE_TONE = 2200.0


def test_a_blind_transfer_to_an_outside_number_dials_the_trunk_with_the_tenants_number(
    voice_system: VoiceSystem,
) -> None:
    system = voice_system
    tenant, number = system.tenant()
    first = desk_phone(system, tenant, "agent1", AGENT_TONE)
    outside = system.baresip(
        "outside-party",
        OUTSIDE_TONE,
        f"<sip:+14155550199@127.0.0.1:{system.trunk_port}>;regint=0;answermode=auto",
        sip_port=system.trunk_port,
    )
    agent1 = tenant.agent("agent1")
    caller, call = connected_call(system, tenant, "caller-sent-outside")

    transferred = system.harness.client.post(
        f"/api/v1/me/interactions/{call['id']}/transfer", json={"target": "+14155550199"}, headers=agent1
    )
    assert transferred.status_code == 204, transferred.text
    wait_for(lambda: first.saw("CALL_CLOSED"), "agent1's phone to be hung up")
    incoming = wait_for(lambda: outside.saw("CALL_ESTABLISHED"), "the outside number to answer")
    assert number.lstrip("+") in str(incoming.get("peeruri", "")), incoming  # the tenant's number as caller id
    hears = {"outside": (OUTSIDE_TONE,), **CALLER_HEARS}
    wait_for(lambda: runs(labels_of(caller.heard(), hears))[-1:] == ["outside"], "the caller to hear the outside party")
    wait_for(lambda: "caller" in runs(labels_of(outside.heard(), AGENT_HEARS)), "the outside party to hear the caller")
    # agent1's part is over (wrap-up); the log says where the call went
    wait_for(lambda: (interaction(system, tenant.id) or {}).get("state") in (None, "wrap_up"), "agent1's wrap-up")
    transfers = [row for row in logged(system, tenant.id, call["id"]) if row[0] == "transferred"]
    assert transfers == [("transferred", "agent1", "sales")], transfers
    outside.command("hangup")
    wait_for(lambda: caller.saw("CALL_CLOSED"), "the caller to be hung up when the outside party hangs up")


def consulting(system: VoiceSystem, tenant: Any) -> tuple[Any, Any, Any, dict[str, Any], dict[str, str]]:
    """A caller connected to agent1, who consults agent2 (both with desk phones); returns once agent1 and
    agent2 hear each other and the caller hears the hold music."""
    first = desk_phone(system, tenant, "agent1", AGENT_TONE)
    second = desk_phone(system, tenant, "agent2", SECOND_AGENT_TONE)
    agent1 = tenant.agent("agent1")
    caller, call = connected_call(system, tenant, f"consulted-caller-{tenant.id}")
    tenant.agent("agent2")
    first_heard = len(labels_of(first.heard(), AGENT_HEARS | {"second": (SECOND_AGENT_TONE,)}))
    started = system.harness.client.post(
        f"/api/v1/me/interactions/{call['id']}/consult", json={"target": "agent2"}, headers=agent1
    )
    assert started.status_code == 204, started.text
    wait_for(lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-2:] == ["agent", "music"], "hold music")
    wait_for(lambda: "agent" in runs(labels_of(second.heard(), {"agent": (AGENT_TONE,)})), "agent2 to hear agent1")
    heard = {"second": (SECOND_AGENT_TONE,), **AGENT_HEARS}
    wait_for(lambda: "second" in runs(labels_of(first.heard(), heard)[first_heard:]), "agent1 to hear agent2")
    return caller, first, second, call, agent1


def test_a_warm_transfer_consults_while_the_caller_holds_then_connects_the_caller_to_the_colleague(
    voice_system: VoiceSystem,
) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    caller, first, second, call, agent1 = consulting(system, tenant)
    assert (interaction(system, tenant.id) or {}).get("agent_id") == "agent1"  # still agent1's while consulting

    completed = system.harness.client.post(f"/api/v1/me/interactions/{call['id']}/consult/complete", headers=agent1)
    assert completed.status_code == 204, completed.text
    wait_for(lambda: first.saw("CALL_CLOSED"), "agent1's phone to be hung up")
    wait_for(lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-1:] == ["second"], "the caller to hear agent2")
    wait_for(lambda: "caller" in runs(labels_of(second.heard(), AGENT_HEARS)), "agent2 to hear the caller")
    found = interaction(system, tenant.id)
    assert found is not None
    assert (found["state"], found["agent_id"]) == ("connected", "agent2")
    assert ("transferred", "agent1", "sales") in logged(system, tenant.id, call["id"])
    caller.command("hangup")
    wait_for(lambda: second.saw("CALL_CLOSED"), "agent2's phone to be hung up")


def test_a_cancelled_consult_brings_the_caller_back_to_the_first_agent(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    caller, first, second, call, agent1 = consulting(system, tenant)
    url = f"/api/v1/me/interactions/{call['id']}/consult"
    again = system.harness.client.post(url, json={"target": "agent2"}, headers=agent1)
    assert again.status_code == 409, again.text

    cancelled = system.harness.client.post(f"{url}/cancel", headers=agent1)
    assert cancelled.status_code == 204, cancelled.text
    wait_for(lambda: second.saw("CALL_CLOSED"), "agent2's phone to be hung up")
    wait_for(
        lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-3:] == ["agent", "music", "agent"],
        "the caller to hear agent1 again",
    )
    heard_before = len(labels_of(first.heard(), AGENT_HEARS))
    wait_for(
        lambda: "caller" in runs(labels_of(first.heard(), AGENT_HEARS)[heard_before:]), "agent1 to hear the caller"
    )
    assert (interaction(system, tenant.id) or {}).get("agent_id") == "agent1"
    nothing = system.harness.client.post(f"{url}/complete", headers=agent1)
    assert nothing.status_code == 409, nothing.text
    caller.command("hangup")
    wait_for(lambda: first.saw("CALL_CLOSED"), "agent1's phone to be hung up")


def interactions(system: VoiceSystem, tenant_id: str) -> list[dict[str, Any]]:
    response = system.harness.client.get(f"/api/v1/tenants/{tenant_id}/snapshot", headers=system.harness.admin)
    return list(response.json()["interactions"].values())


def test_the_consulted_colleague_is_offered_no_call_until_the_consult_ends(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant()
    caller, _first, second, call, agent1 = consulting(system, tenant)
    agents = tenant.snapshot()["agents"]
    assert agents["agent2"]["status"] == "busy", agents  # available, but talking to agent1

    another = caller_for(system, f"second-caller-{tenant.id}")
    another.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    waiting = wait_for(
        lambda: next((found for found in interactions(system, tenant.id) if found["id"] != call["id"]), None),
        "the second call to queue",
    )
    assert waiting["state"] == "queued"  # routed at once: agent2 was not offered it

    cancelled = system.harness.client.post(f"/api/v1/me/interactions/{call['id']}/consult/cancel", headers=agent1)
    assert cancelled.status_code == 204, cancelled.text
    wait_for(
        lambda: any(
            found["id"] == waiting["id"] and (found["state"], found["agent_id"]) == ("connected", "agent2")
            for found in interactions(system, tenant.id)
        ),
        "agent2's phone to answer the second call once free",
    )
    assert (interaction_of(system, tenant.id, call["id"]) or {}).get("agent_id") == "agent1"
    for peer in (caller, another):
        peer.command("hangup")
    wait_for(lambda: second.saw("CALL_CLOSED"), "agent2's phone to be hung up")


def interaction_of(system: VoiceSystem, tenant_id: str, interaction_id: str) -> dict[str, Any] | None:
    return next((found for found in interactions(system, tenant_id) if found["id"] == interaction_id), None)


def test_hold_and_resume_during_a_consult_keep_the_caller_on_music_and_the_colleagues_talking(
    voice_system: VoiceSystem,
) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    caller, first, second, call, agent1 = consulting(system, tenant)
    url = f"/api/v1/me/interactions/{call['id']}"
    heard_by_first = {"second": (SECOND_AGENT_TONE,), **AGENT_HEARS}
    heard_by_second = {"agent": (AGENT_TONE,), "caller": AGENT_HEARS["caller"]}

    def colleagues_still_talk(what: str) -> None:
        first_at, second_at = len(labels_of(first.heard(), heard_by_first)), len(labels_of(second.heard(), AGENT_HEARS))
        wait_for(lambda: "agent" in runs(labels_of(second.heard(), heard_by_second)[second_at:]), f"agent2: {what}")
        wait_for(lambda: "second" in runs(labels_of(first.heard(), heard_by_first)[first_at:]), f"agent1: {what}")
        # nobody heard the caller, and the caller heard nobody since the consult began: still the music
        assert "caller" not in runs(labels_of(second.heard(), heard_by_second)), what
        assert runs(labels_of(caller.heard(), CALLER_HEARS))[-2:] == ["agent", "music"], what

    held = system.harness.client.post(f"{url}/hold", headers=agent1)
    assert held.status_code == 200, held.text
    assert "on_hold_since" in held.json()["data"]
    colleagues_still_talk("hears agent1 with the call on hold")

    resumed = system.harness.client.post(f"{url}/resume", headers=agent1)
    assert resumed.status_code == 200, resumed.text
    assert "on_hold_since" not in resumed.json()["data"]
    colleagues_still_talk("hears agent1 with the call resumed during the consult")

    cancelled = system.harness.client.post(f"{url}/consult/cancel", headers=agent1)
    assert cancelled.status_code == 204, cancelled.text
    wait_for(lambda: second.saw("CALL_CLOSED"), "agent2's phone to be hung up")
    wait_for(
        lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-3:] == ["agent", "music", "agent"],
        "the caller to hear agent1 again",
    )
    heard_before = len(labels_of(first.heard(), AGENT_HEARS))
    wait_for(
        lambda: "caller" in runs(labels_of(first.heard(), AGENT_HEARS)[heard_before:]), "agent1 to hear the caller"
    )
    caller.command("hangup")
    wait_for(lambda: first.saw("CALL_CLOSED"), "agent1's phone to be hung up")


def test_a_call_held_during_a_consult_stays_on_hold_when_the_consult_is_cancelled_until_resumed(
    voice_system: VoiceSystem,
) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    caller, first, second, call, agent1 = consulting(system, tenant)
    url = f"/api/v1/me/interactions/{call['id']}"
    held = system.harness.client.post(f"{url}/hold", headers=agent1)
    assert held.status_code == 200, held.text

    cancelled = system.harness.client.post(f"{url}/consult/cancel", headers=agent1)
    assert cancelled.status_code == 204, cancelled.text
    wait_for(lambda: second.saw("CALL_CLOSED"), "agent2's phone to be hung up")
    music_at_cancel = len(labels_of(caller.heard(), CALLER_HEARS))
    wait_for(lambda: len(labels_of(caller.heard(), CALLER_HEARS)) >= music_at_cancel + 10, "a second more of music")
    first_at = len(labels_of(first.heard(), AGENT_HEARS))
    wait_for(lambda: len(labels_of(caller.heard(), CALLER_HEARS)) >= music_at_cancel + 20, "another second")
    assert runs(labels_of(caller.heard(), CALLER_HEARS))[-2:] == ["agent", "music"]  # still on hold
    assert len(labels_of(first.heard(), AGENT_HEARS)) - first_at <= 2  # agent1's phone receives nothing

    resumed = system.harness.client.post(f"{url}/resume", headers=agent1)
    assert resumed.status_code == 200, resumed.text
    wait_for(
        lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-3:] == ["agent", "music", "agent"],
        "the caller to hear agent1 after Resume",
    )
    wait_for(lambda: "caller" in runs(labels_of(first.heard(), AGENT_HEARS)[first_at:]), "agent1 to hear the caller")
    caller.command("hangup")
    wait_for(lambda: first.saw("CALL_CLOSED"), "agent1's phone to be hung up")
