"""Call recording through rtpengine (pcap in userspace) → a stereo WAV under the data folder; what is checked is
what the recording contains (each side's tone in its own channel), who may play it, and its retention."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from tests.voice.audio import dominant_tones, first_run
from tests.voice.conftest import AGENT_TONE, CALLER_TONE, GREETING_TONE, VoiceSystem, tone, wait_for
from tests.voice.test_calls import AGENT_HEARS, CALLER_HEARS, caller_for, interaction, labels_of

from callbridge.channels.sip.recording import RecordingStore

BOTH = {"caller": (CALLER_TONE,), "agent": (AGENT_TONE,)}


def channel(path: Path, number: int, out: Path) -> list[str]:
    subprocess.run(["sox", str(path), str(out), "remix", str(number)], check=True, capture_output=True)
    return dominant_tones(out, BOTH)


def test_a_recorded_call_holds_both_voices_and_only_its_agent_and_supervisors_may_play_it(
    voice_system: VoiceSystem, tmp_path: Path
) -> None:
    system = voice_system
    client, admin = system.harness.client, system.harness.admin
    tenant, number = system.tenant()
    uploaded = client.post(
        "/api/v1/me/greetings",
        data={"name": "this call is recorded"},
        files={"audio": ("notice.wav", tone(tmp_path / "notice.wav", GREETING_TONE, 1.5).read_bytes(), "audio/wav")},
        headers=system.harness.sign_in(tenant.id, "agent2"),
    )
    assert uploaded.status_code == 201, uploaded.text
    settings = {"recording": "on", "announcement_greeting_id": uploaded.json()["id"]}
    response = client.put(f"/api/v1/tenants/{tenant.id}/voice/queues/sales", json=settings, headers=admin)
    assert response.status_code == 200, response.text
    assert (
        client.put(
            f"/api/v1/tenants/{tenant.id}/voice/queues/sales", json={"recording": "sometimes"}, headers=admin
        ).status_code
        == 422
    )
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "recorded-agent",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;regint=600",
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration")
    agent = tenant.agent("agent1")
    other = tenant.agent("agent2", available=False)

    caller = caller_for(system, "recorded-caller")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    connected = wait_for(
        lambda: (found := interaction(system, tenant.id)) and found["state"] == "connected" and found, "the bridge"
    )
    assert connected["data"]["recording_url"].endswith(
        f"/api/v1/tenants/{tenant.id}/recordings/{connected['id']}/audio"
    )
    # a second and a half of each voice heard by the other side, so there is something to record
    wait_for(lambda: first_run(labels_of(caller.heard(), CALLER_HEARS), "agent", 15) is not None, "the caller to hear")
    wait_for(lambda: first_run(labels_of(phone.heard(), AGENT_HEARS), "caller", 15) is not None, "the agent to hear")
    heard = labels_of(caller.heard(), CALLER_HEARS)
    announcement_at, agent_at = first_run(heard, "greeting", 10), first_run(heard, "agent")
    timeline = "".join((label or ".")[0] for label in heard)
    assert announcement_at is not None, timeline  # the announcement is heard whole (1.5 s) ...
    assert agent_at is not None, timeline
    assert announcement_at < agent_at, timeline  # ... before the agent, though the agent was free at once
    caller.command("hangup")

    def recorded() -> dict[str, Any] | None:
        found = client.get(f"/api/v1/me/recordings/{connected['id']}", headers=agent)
        return found.json() if found.status_code == 200 else None

    details = wait_for(recorded, "the recording to be stored")
    assert details["content_type"] == "audio/wav"
    assert details["agent_id"] == "agent1"
    assert details["duration_seconds"] > 1.0

    partial = client.get(details["audio_url"], headers={**agent, "Range": "bytes=0-43"})
    assert partial.status_code == 206, partial.text
    assert partial.content[:4] == b"RIFF"
    assert len(partial.content) == 44
    whole = client.get(f"/api/v1/tenants/{tenant.id}/recordings/{connected['id']}/audio", headers=admin)
    assert whole.status_code == 200
    assert len(whole.content) == details["bytes"]
    wav = tmp_path / "recording.wav"
    wav.write_bytes(whole.content)
    left, right = channel(wav, 1, tmp_path / "left.wav"), channel(wav, 2, tmp_path / "right.wav")
    assert first_run(left, "caller", 5) is not None, "".join((label or ".")[0] for label in left)
    assert first_run(right, "agent", 5) is not None, "".join((label or ".")[0] for label in right)
    assert "agent" not in left
    assert "caller" not in right

    assert client.get(f"/api/v1/me/recordings/{connected['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/me/recordings/{connected['id']}/audio", headers=other).status_code == 404
    assert list((system.harness.services.settings.data_dir / "voice" / "recording-spool" / "pcaps").glob("*")) == []

    # retention: a day, and the job runs two days later
    response = client.put(f"/api/v1/tenants/{tenant.id}/voice/recording-retention", json={"days": 1}, headers=admin)
    assert response.status_code == 200, response.text
    store = RecordingStore(system.harness.services.engine, system.harness.services.settings.data_dir)
    assert store.purge(time.time()) == 0
    path = store.find(tenant.id, connected["id"])
    assert path is not None
    assert path.path.exists()
    assert store.purge(time.time() + 2 * 86400) >= 1
    assert not path.path.exists()
    assert client.get(f"/api/v1/me/recordings/{connected['id']}", headers=agent).status_code == 404
