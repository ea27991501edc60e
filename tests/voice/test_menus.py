"""Voice menus with real engines: a baresip caller hears the menu's prompt, presses a key (RFC 4733 telephone-event,
which rtpengine reports to the controller), and the call is queued where the key says, the keys in its data."""

from __future__ import annotations

import array
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tests.channels.conftest import Tenant
from tests.voice.audio import WINDOW_SECONDS, dominant_tones, first_run, read_samples
from tests.voice.conftest import AGENT_TONE, CALLER_TONE, VoiceSystem, tone, wait_for
from tests.voice.test_calls import HOLD_MUSIC, caller_for, interaction

from callbridge.store.tables import interactions

PROMPT_TONE = 1200.0  # the menu prompt the tests upload: apart from the caller's, the agent's and the music's
CALLER_HEARS = {"prompt": (PROMPT_TONE,), "music": HOLD_MUSIC, "agent": (AGENT_TONE,)}
AGENT_HEARS = {"caller": (CALLER_TONE,)}


def heard(path: Path | None, tones: dict[str, tuple[float, ...]]) -> list[str]:
    return dominant_tones(path, tones) if path is not None and path.stat().st_size > 4000 else []


def prompts_heard(labels: list[str]) -> int:
    """How many separate times the prompt tone was heard (runs of at least 3 windows)."""
    count, run = 0, 0
    for label in [*labels, "", "", ""]:
        if label == "prompt":
            run += 1
            continue
        count += run >= 3
        run = 0
    return count


def prompt_over(labels: list[str]) -> bool:
    """The prompt was heard and has ended (silence after it): the menu waits for a key."""
    start = first_run(labels, "prompt")
    if start is None:
        return False
    end = start
    while end < len(labels) and labels[end] == "prompt":
        end += 1
    return labels[end : end + 3] == ["", "", ""]


def loud_windows(path: Path | None) -> int:
    """How many 100 ms windows carry sound (above about -40 dBFS)."""
    if path is None or path.stat().st_size < 4000:
        return 0
    samples, rate = read_samples(path)
    window = int(rate * WINDOW_SECONDS)
    return sum(
        1
        for start in range(0, len(samples) - window + 1, window)
        if sum(s * s for s in array.array("h", samples[start : start + window])) / window > 1e5
    )


def billing_queue(system: VoiceSystem, tenant: Tenant) -> None:
    client, admin = system.harness.client, system.harness.admin
    queue = {"id": "billing", "name": "Billing", "channel": "phone"}
    created = client.post(f"/api/v1/tenants/{tenant.id}/queues", json=queue, headers=admin)
    assert created.status_code == 201, created.text
    agent = {
        "email": f"agent1@{tenant.id}.example",
        "display_name": "Agent 1",
        "queue_ids": ["sales", "billing", "support", "messages"],
    }
    assert client.put(f"/api/v1/tenants/{tenant.id}/agents/agent1", json=agent, headers=admin).status_code == 200


def prompt_greeting(system: VoiceSystem, tenant: Tenant, tmp_path: Path) -> str:
    uploaded = system.harness.client.post(
        "/api/v1/me/greetings",
        data={"name": "menu"},
        files={"audio": ("menu.wav", tone(tmp_path / "prompt.wav", PROMPT_TONE, 1.0).read_bytes(), "audio/wav")},
        headers=system.harness.sign_in(tenant.id, "agent2"),
    )
    assert uploaded.status_code == 201, uploaded.text
    greeting_id: str = uploaded.json()["id"]
    return greeting_id


def put_menu(system: VoiceSystem, tenant: Tenant, number: str, **menu: Any) -> None:
    response = system.harness.client.put(
        f"/api/v1/tenants/{tenant.id}/voice/numbers/{number}/menu", json=menu, headers=system.harness.admin
    )
    assert response.status_code == 200, response.text


def test_a_key_chooses_the_queue_the_digit_goes_into_the_data_and_the_agent_talks_with_the_caller(
    voice_system: VoiceSystem, tmp_path: Path
) -> None:
    system = voice_system
    tenant, number = system.tenant()
    billing_queue(system, tenant)
    options = [{"digit": "1", "queue_id": "sales"}, {"digit": "2", "queue_id": "billing"}]
    put_menu(system, tenant, number, options=options, greeting_id=prompt_greeting(system, tenant, tmp_path))
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "menu-agent-phone",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;regint=600",
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration")
    agent = tenant.agent("agent1", available=False)

    caller = caller_for(system, "menu-caller")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    wait_for(lambda: first_run(heard(caller.heard(), CALLER_HEARS), "prompt") is not None, "the menu's prompt")
    assert interaction(system, tenant.id) is None  # nothing is queued before the caller chooses

    caller.command("sndcode", "2")
    queued = wait_for(lambda: interaction(system, tenant.id), "the call to be queued")
    assert queued["queue_id"] == "billing"
    assert queued["data"]["menu_digits"] == "2"
    assert queued["data"]["menu_choice"] == "2"

    response = system.harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    assert response.status_code == 200, response.text
    wait_for(lambda: (interaction(system, tenant.id) or {}).get("state") == "connected", "the agent to answer")
    wait_for(
        lambda: first_run(heard(caller.heard(), CALLER_HEARS), "agent") is not None, "the caller hearing the agent"
    )
    wait_for(lambda: first_run(heard(phone.heard(), AGENT_HEARS), "caller") is not None, "the agent to hear the caller")
    caller.command("hangup")
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the desk phone to be hung up")
    labels = heard(caller.heard(), CALLER_HEARS)
    prompt_at, agent_at = first_run(labels, "prompt"), first_run(labels, "agent")
    assert prompt_at is not None
    assert agent_at is not None
    assert prompt_at < agent_at


def test_a_key_the_menu_does_not_list_replays_the_prompt_then_the_call_joins_the_numbers_queue(
    voice_system: VoiceSystem, tmp_path: Path
) -> None:
    system = voice_system
    tenant, number = system.tenant()
    billing_queue(system, tenant)
    put_menu(
        system,
        tenant,
        number,
        options=[{"digit": "1", "queue_id": "billing"}],
        greeting_id=prompt_greeting(system, tenant, tmp_path),
        attempts=2,
        wait_seconds=3,
    )
    caller = caller_for(system, "menu-wrong-key")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    wait_for(lambda: prompt_over(heard(caller.heard(), CALLER_HEARS)), "the caller to hear the menu to its end")
    caller.command("sndcode", "9")
    queued = wait_for(lambda: interaction(system, tenant.id), "the call to join the number's queue")
    assert queued["queue_id"] == "sales"
    assert queued["data"]["menu_digits"] == "9"
    assert queued["data"]["menu_choice"] == "default"
    labels = heard(caller.heard(), CALLER_HEARS)
    timeline = "".join((label or ".")[0] for label in labels)
    assert prompts_heard(labels) == 2, timeline  # once, and once again after the wrong key
    caller.command("hangup")
    wait_for(lambda: interaction(system, tenant.id) is None, "the call to end")


def test_a_menu_without_a_greeting_speaks_the_default_prompt(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant()
    billing_queue(system, tenant)
    put_menu(system, tenant, number, options=[{"digit": "#", "queue_id": "billing"}])
    caller = caller_for(system, "menu-spoken")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    wait_for(lambda: loud_windows(caller.heard()) >= 10, "the caller to hear the spoken prompt")  # a second of speech
    assert interaction(system, tenant.id) is None
    caller.command("sndcode", "#")
    queued = wait_for(lambda: interaction(system, tenant.id), "the call to be queued")
    assert (queued["queue_id"], queued["data"]["menu_digits"]) == ("billing", "#")
    caller.command("hangup")
    wait_for(lambda: interaction(system, tenant.id) is None, "the call to end")


def test_a_caller_who_hangs_up_in_the_menu_leaves_no_interaction_and_no_live_call(
    voice_system: VoiceSystem, tmp_path: Path
) -> None:
    system = voice_system
    tenant, number = system.tenant()
    put_menu(
        system,
        tenant,
        number,
        options=[{"digit": "1", "queue_id": "sales"}],
        greeting_id=prompt_greeting(system, tenant, tmp_path),
    )
    caller = caller_for(system, "menu-hang-up")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    wait_for(lambda: first_run(heard(caller.heard(), CALLER_HEARS), "prompt") is not None, "the menu's prompt")
    assert any(call.tenant_id == tenant.id for call in system.voice.controller.calls.values())
    caller.command("hangup")
    wait_for(
        lambda: not any(call.tenant_id == tenant.id for call in system.voice.controller.calls.values()),
        "the controller to let the call go",
    )
    assert interaction(system, tenant.id) is None
    with system.harness.services.engine.connect() as connection:  # never queued: nothing stored either
        stored = connection.execute(select(interactions.c.id).where(interactions.c.tenant_id == tenant.id)).all()
    assert stored == []
