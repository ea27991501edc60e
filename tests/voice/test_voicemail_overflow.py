"""Voicemail overflow: a caller of a queue nobody is signed in to hears the voicemail prompt and its tone, speaks,
hangs up, and the message (recorded by rtpengine) is a voicemail interaction in the queue's voicemail queue."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.voice.audio import dominant_tones, first_run
from tests.voice.conftest import CALLER_TONE, DEADLINE, VoiceSystem, wait_for
from tests.voice.test_calls import HOLD_MUSIC, caller_for, labels_of, stored

from callbridge.channels.sip.overflow import TONE_HZ

CALLER_HEARS = {"prompt_tone": (float(TONE_HZ),), "music": HOLD_MUSIC}
MESSAGE = {"caller": (CALLER_TONE,), "prompt_tone": (float(TONE_HZ),)}


def voicemails(system: VoiceSystem, tenant_id: str) -> list[dict[str, Any]]:
    response = system.harness.client.get(f"/api/v1/tenants/{tenant_id}/snapshot", headers=system.harness.admin)
    return [i for i in response.json()["interactions"].values() if i["queue_id"] == "messages"]


def test_with_nobody_signed_in_the_caller_leaves_a_voicemail_that_lands_in_the_voicemail_queue(
    voice_system: VoiceSystem, tmp_path: Path
) -> None:
    system = voice_system
    client, admin = system.harness.client, system.harness.admin
    tenant, number = system.tenant()
    body = {"recording": "off", "voicemail_queue_id": "messages", "max_wait_seconds": 60}
    response = client.put(f"/api/v1/tenants/{tenant.id}/voice/queues/sales", json=body, headers=admin)
    assert response.status_code == 200, response.text
    wrong = client.put(
        f"/api/v1/tenants/{tenant.id}/voice/queues/sales", json={"voicemail_queue_id": "support"}, headers=admin
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "voicemail_queue_id"

    caller = caller_for(system, "voicemail-caller")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")

    wait_for(
        lambda: first_run(labels_of(caller.heard(), CALLER_HEARS), "prompt_tone") is not None,
        "the caller to hear the prompt's tone",
    )
    # rtpengine records from the end of the prompt: wait for about two seconds of the caller's packets
    pcaps = system.harness.services.settings.data_dir / "voice" / "recording-spool" / "pcaps"
    wait_for(lambda: sum(p.stat().st_size for p in pcaps.glob("*.pcap")) > 100 * 200, "two seconds recorded")
    caller.command("hangup")
    message = wait_for(
        lambda: voicemails(system, tenant.id)[0] if voicemails(system, tenant.id) else None, "the voicemail"
    )
    assert message["from_address"] == "+14155550111"
    assert message["to_address"] == number
    phone_call = message["data"]["phone_interaction_id"]
    assert phone_call.startswith("sip-")
    assert stored(system, tenant.id, phone_call).state == "abandoned"

    audio = client.get(f"/api/v1/tenants/{tenant.id}/voicemail/{message['id']}/audio", headers=admin)
    assert audio.status_code == 200, audio.text
    wav = tmp_path / "message.wav"
    wav.write_bytes(audio.content)
    labels = dominant_tones(wav, MESSAGE)
    timeline = "".join((label or ".")[0] for label in labels)
    assert first_run(labels, "caller", 5) is not None, timeline
    assert "prompt_tone" not in labels, timeline  # recorded after the prompt: only the caller


def test_after_the_queues_maximum_wait_the_caller_is_offered_voicemail(voice_system: VoiceSystem) -> None:
    system = voice_system
    client, admin = system.harness.client, system.harness.admin
    tenant, number = system.tenant()
    body = {"voicemail_queue_id": "messages", "max_wait_seconds": 10}
    response = client.put(f"/api/v1/tenants/{tenant.id}/voice/queues/sales", json=body, headers=admin)
    assert response.status_code == 200, response.text
    tenant.agent("agent1", available=False)  # signed in, on break: the caller waits, on hold music

    caller = caller_for(system, "patient-caller")
    started = time.monotonic()
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    wait_for(
        lambda: first_run(labels_of(caller.heard(), CALLER_HEARS), "music") is not None, "the caller to hear music"
    )
    wait_for(
        lambda: first_run(labels_of(caller.heard(), CALLER_HEARS), "prompt_tone") is not None,
        "the voicemail prompt after the maximum wait",
        timeout=DEADLINE + 10,
    )
    assert time.monotonic() - started >= 10
    pcaps = system.harness.services.settings.data_dir / "voice" / "recording-spool" / "pcaps"
    wait_for(lambda: sum(p.stat().st_size for p in pcaps.glob("*.pcap")) > 50 * 200, "a second recorded")
    caller.command("hangup")
    message = wait_for(lambda: next(iter(voicemails(system, tenant.id)), None), "the voicemail")
    assert message["from_address"] == "+14155550111"
    assert stored(system, tenant.id, message["data"]["phone_interaction_id"]).state == "abandoned"
