"""A real call through Kamailio, rtpengine and the voice controller; each peer's recording is what is checked."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tests.voice.audio import dominant_tones, first_run
from tests.voice.conftest import AGENT_TONE, CALLER_TONE, GREETING_TONE, VoiceSystem, tone, wait_for

from callbridge.store.live_state import stored_interaction_row
from callbridge.store.tables import interaction_events

HOLD_MUSIC = (523.25, 659.25, 783.99, 440.0)
CALLER_HEARS = {"greeting": (GREETING_TONE,), "music": HOLD_MUSIC, "agent": (AGENT_TONE,)}
AGENT_HEARS = {"caller": (CALLER_TONE,)}


def labels_of(path: Path | None, tones: dict[str, tuple[float, ...]]) -> list[str]:
    return dominant_tones(path, tones) if path is not None and path.stat().st_size > 4000 else []


def interaction(system: VoiceSystem, tenant_id: str) -> dict[str, Any] | None:
    response = system.harness.client.get(f"/api/v1/tenants/{tenant_id}/snapshot", headers=system.harness.admin)
    interactions = list(response.json()["interactions"].values())
    return interactions[0] if interactions else None


def stored(system: VoiceSystem, tenant_id: str, interaction_id: str) -> Any:
    return stored_interaction_row(system.harness.services.engine, tenant_id, interaction_id)


def caller_for(system: VoiceSystem, name: str) -> Any:
    return system.baresip(name, CALLER_TONE, "<sip:+14155550111@127.0.0.1>;regint=0")


def test_caller_hears_greeting_then_hold_music_then_the_agent_who_hears_the_caller(
    voice_system: VoiceSystem, tmp_path: Path
) -> None:
    system = voice_system
    tenant, number = system.tenant(greeting=tone(tmp_path / "greeting.wav", GREETING_TONE, 1.2))
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "agent-phone",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;regint=600",
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration")
    agent = tenant.agent("agent1", available=False)  # signed in, on break: the caller waits

    caller = caller_for(system, "caller")
    started = time.perf_counter()
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    answered_after = time.perf_counter() - started
    queued = wait_for(lambda: interaction(system, tenant.id), "the interaction")
    assert queued["state"] == "queued"
    assert queued["from_address"] == "+14155550111"
    assert queued["to_address"] == number
    wait_for(
        lambda: first_run(labels_of(caller.heard(), CALLER_HEARS), "music") is not None,
        "the caller to hear the hold music",
    )

    response = system.harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    assert response.status_code == 200, response.text
    wait_for(lambda: (interaction(system, tenant.id) or {}).get("state") == "connected", "the agent to answer")
    wait_for(
        lambda: first_run(labels_of(caller.heard(), CALLER_HEARS), "agent") is not None,
        "the caller to hear the agent",
    )
    wait_for(
        lambda: first_run(labels_of(phone.heard(), AGENT_HEARS), "caller") is not None,
        "the agent to hear the caller",
    )

    caller.command("hangup")
    wait_for(
        lambda: (interaction(system, tenant.id) or {}).get("state") in (None, "wrap_up", "completed"),
        "the call to end",
    )
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the desk phone to be hung up")

    heard = labels_of(caller.heard(), CALLER_HEARS)
    greeting_at, music_at, agent_at = (first_run(heard, name) for name in ("greeting", "music", "agent"))
    timeline = "".join((label or ".")[0] for label in heard)  # g: greeting, m: music, a: agent, .: silence
    assert greeting_at is not None, timeline
    assert music_at is not None, timeline
    assert agent_at is not None, timeline
    assert greeting_at < music_at < agent_at, timeline
    setup = system.voice.controller.setup_seconds
    print(f"\nINVITE→200 inside the controller: {min(setup) * 1000:.1f} ms; seen by the caller: {answered_after:.3f} s")


def test_a_caller_who_hangs_up_while_waiting_is_abandoned(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant()
    caller = caller_for(system, "impatient-caller")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    queued = wait_for(lambda: interaction(system, tenant.id), "the interaction")
    caller.command("hangup")
    wait_for(lambda: interaction(system, tenant.id) is None, "the interaction to end")
    ended = stored(system, tenant.id, queued["id"])
    assert ended is not None
    assert ended.state == "abandoned"


def runs(labels: list[str], length: int = 3) -> list[str]:
    """The names heard for at least `length` windows in a row, in order, repeats merged: e.g. [agent, music, agent]."""
    found: list[str] = []
    index = 0
    while index < len(labels):
        end = index
        while end < len(labels) and labels[end] == labels[index]:
            end += 1
        if labels[index] and end - index >= length and (not found or found[-1] != labels[index]):
            found.append(labels[index])
        index = end
    return found


def last_run_length(labels: list[str], name: str) -> int:
    count = 0
    for label in reversed(labels):
        if label != name:
            break
        count += 1
    return count


def test_on_hold_the_caller_hears_music_and_the_agent_nothing_until_resumed(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant()
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "holding-agent",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;regint=600",
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration")
    agent = tenant.agent("agent1")
    caller = caller_for(system, "held-caller")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    call = wait_for(
        lambda: (found := interaction(system, tenant.id)) and found["state"] == "connected" and found,
        "the agent to answer",
    )
    wait_for(lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-1:] == ["agent"], "the caller to hear the agent")

    held = system.harness.client.post(f"/api/v1/me/interactions/{call['id']}/hold", headers=agent)
    assert held.status_code == 200, held.text
    assert "on_hold_since" in held.json()["data"]
    wait_for(
        lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-2:] == ["agent", "music"],
        "the caller to hear the hold music",
    )
    agent_heard_at_hold = len(labels_of(phone.heard(), AGENT_HEARS))
    wait_for(
        lambda: last_run_length(labels_of(caller.heard(), CALLER_HEARS), "music") >= 10,
        "a second of hold music",
    )
    # blocked media reaches the agent's phone no more: its recording (one frame per packet received) stands still
    assert len(labels_of(phone.heard(), AGENT_HEARS)) - agent_heard_at_hold <= 2

    resumed = system.harness.client.post(f"/api/v1/me/interactions/{call['id']}/resume", headers=agent)
    assert resumed.status_code == 200, resumed.text
    wait_for(
        lambda: runs(labels_of(caller.heard(), CALLER_HEARS))[-3:] == ["agent", "music", "agent"],
        "the caller to hear the agent again",
    )
    wait_for(
        lambda: "caller" in runs(labels_of(phone.heard(), AGENT_HEARS)[agent_heard_at_hold:]),
        "the agent to hear the caller again",
    )
    caller.command("hangup")
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the desk phone to be hung up")


def test_a_caller_who_hangs_up_while_the_desk_phone_rings_stops_the_ringing_and_is_abandoned(
    voice_system: VoiceSystem,
) -> None:
    system = voice_system
    tenant, number = system.tenant()
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "ringing-agent",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=manual;regint=600",
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration")
    tenant.agent("agent1")
    caller = caller_for(system, "caller-who-gives-up")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: phone.saw("CALL_INCOMING"), "the desk phone to ring")
    offered = interaction(system, tenant.id)
    assert offered is not None
    assert offered["state"] == "offered"
    caller.command("hangup")
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the desk phone to stop ringing")
    wait_for(lambda: interaction(system, tenant.id) is None, "the interaction to end")
    ended = stored(system, tenant.id, offered["id"])
    assert ended.state == "abandoned"


def test_a_desk_phone_nobody_answers_stops_ringing_when_the_offer_times_out(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant(offer_timeout=5)
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "absent-agent",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=manual;regint=600",
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration")
    tenant.agent("agent1")
    caller = caller_for(system, "caller-left-waiting")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: phone.saw("CALL_INCOMING"), "the desk phone to ring")
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the desk phone to stop ringing when the offer times out")
    waiting = interaction(system, tenant.id)
    assert waiting is not None
    assert waiting["state"] == "queued"  # back in the queue; the agent who missed it is on break
    wait_for(
        lambda: first_run(labels_of(caller.heard(), CALLER_HEARS), "music") is not None,
        "the caller to still hear the hold music",
    )
    caller.command("hangup")
    wait_for(lambda: interaction(system, tenant.id) is None, "the interaction to end")


def test_a_caller_phone_that_holds_and_resumes_itself_keeps_the_call(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant()
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "patient-agent",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;regint=600",
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration")
    tenant.agent("agent1")
    caller = caller_for(system, "caller-with-a-hold-button")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: (interaction(system, tenant.id) or {}).get("state") == "connected", "the agent to answer")
    wait_for(lambda: runs(labels_of(phone.heard(), AGENT_HEARS)) == ["caller"], "the agent to hear the caller")

    updates = log_of(caller).count("stream: update 'audio'")  # one per answered offer
    caller.command("hold")  # a re-INVITE with a=sendonly, answered by the controller against rtpengine
    wait_for(lambda: log_of(caller).count("stream: update 'audio'") > updates, "the hold re-INVITE's answer")
    caller.command("resume")
    wait_for(lambda: log_of(caller).count("stream: update 'audio'") > updates + 1, "the resume re-INVITE's answer")
    heard_at_resume = len(labels_of(phone.heard(), AGENT_HEARS))
    wait_for(
        lambda: "caller" in runs(labels_of(phone.heard(), AGENT_HEARS)[heard_at_resume:]),
        "the agent to hear the caller after the re-INVITEs",
    )
    assert (interaction(system, tenant.id) or {}).get("state") == "connected"
    assert "488 Not Acceptable" not in log_of(caller)
    caller.command("hangup")
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the desk phone to be hung up")


def log_of(peer: Any) -> str:
    return (peer.directory / "baresip.log").read_text(errors="replace")


def test_an_offer_to_an_agent_whose_desk_phone_is_not_registered_is_missed_at_once_for_that_reason(
    voice_system: VoiceSystem,
) -> None:
    system = voice_system
    tenant, number = system.tenant(offer_timeout=120)
    username = system.desk_phone(tenant, "agent1")  # configured, but no phone registers
    assert not system.registered(username)
    agent = tenant.agent("agent1")
    caller = caller_for(system, "caller-for-an-unplugged-phone")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    # long before the offer's 120 s: back in the queue, and the agent on break because the phone is not registered
    me = wait_for(lambda: on_break(system, agent), "the offer to be missed")
    assert me["reason"] == "phone_not_registered", me
    assert (interaction(system, tenant.id) or {}).get("state") == "queued"
    assert wait_for(lambda: offer_outcomes(system, tenant.id), "the offer's end") == ["phone_not_registered"]
    caller.command("hangup")
    wait_for(lambda: interaction(system, tenant.id) is None, "the interaction to end")


def offer_outcomes(system: VoiceSystem, tenant_id: str) -> list[str]:
    """How the tenant's offers ended, as stored (the reports count them from these)."""
    with system.harness.services.engine.connect() as connection:
        rows = connection.execute(
            select(interaction_events.c.detail)
            .where(interaction_events.c.tenant_id == tenant_id, interaction_events.c.type == "offer_ended")
            .order_by(interaction_events.c.id)
        ).all()
    return [row.detail["outcome"] for row in rows]


def on_break(system: VoiceSystem, agent: dict[str, str]) -> dict[str, Any] | None:
    me: dict[str, Any] = system.harness.client.get("/api/v1/me", headers=agent).json()["agents"]["agent1"]
    return me if me["status"] == "break" else None


def test_an_offer_to_a_registered_phone_that_does_not_reply_in_time_is_missed_like_any_unanswered_offer(
    voice_system: VoiceSystem,
) -> None:
    """Kamailio answers 408 for a registered phone that sends nothing back (a frozen browser page, a desk phone
    gone from the network): the offer is missed as if nobody answered it, not as a phone that is not registered."""
    system = voice_system
    tenant, number = system.tenant(offer_timeout=120)
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "frozen-phone",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=manual;regint=600",
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration")
    assert phone.process is not None
    phone.process.send_signal(signal.SIGSTOP)  # registered, but it replies to nothing now
    try:
        agent = tenant.agent("agent1")
        caller = caller_for(system, "caller-for-a-frozen-phone")
        caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
        wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
        # Kamailio gives up on the phone after 5 s, long before the offer's 120 s: the usual missed offer
        me = wait_for(lambda: on_break(system, agent), "the offer to be missed")
        assert me["reason"] == "missed_offer", me
        assert (interaction(system, tenant.id) or {}).get("state") == "queued"
        assert wait_for(lambda: offer_outcomes(system, tenant.id), "the offer's end") == ["timed_out"]
        caller.command("hangup")
        wait_for(lambda: interaction(system, tenant.id) is None, "the interaction to end")
    finally:
        phone.process.send_signal(signal.SIGCONT)
