"""A tenant's own hold music, heard by its callers through the real engines; the default for everyone else and
after "back to default". Also the admin's view of live voice: calls now and registered phones (Kamailio)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.admin.conftest import sign_in_page
from tests.voice.audio import mp3_tone
from tests.voice.conftest import AGENT_TONE, CALLER_TONE, VoiceSystem, tone, wait_for
from tests.voice.test_calls import HOLD_MUSIC, interaction, labels_of, runs

UPLOADED_TONE = 1100.0  # apart from the default music's notes, the peers' tones and the voicemail beep
HEARS = {"uploaded": (UPLOADED_TONE,), "music": HOLD_MUSIC, "agent": (AGENT_TONE,)}


def upload(system: VoiceSystem, tenant_id: str, path: Path) -> None:
    response = system.harness.client.put(
        f"/api/v1/tenants/{tenant_id}/voice/hold-music",
        files={"audio": (path.name, path.read_bytes(), "audio/wav")},
        headers=system.harness.admin,
    )
    assert response.status_code == 200, response.text


def status(system: VoiceSystem, tenant_id: str) -> dict[str, Any]:
    response = system.harness.client.get(f"/api/v1/tenants/{tenant_id}/voice/status", headers=system.harness.admin)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def call_and_hear(system: VoiceSystem, number: str, name: str, what: str) -> Any:
    caller = system.baresip(name, CALLER_TONE, "<sip:+14155550133@127.0.0.1>;regint=0")
    caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
    wait_for(lambda: what in runs(labels_of(caller.heard(), HEARS), 5), f"the caller to hear {what}")
    return caller


def test_waiting_and_held_callers_hear_their_tenants_uploaded_music_and_others_the_default(
    voice_system: VoiceSystem, tmp_path: Path, artifacts_dir: Path
) -> None:
    system = voice_system
    tenant, number = system.tenant()
    other, other_number = system.tenant()
    upload(system, tenant.id, tone(tmp_path / "ours.wav", UPLOADED_TONE, 3))
    username = system.desk_phone(tenant, "agent1")
    assert status(system, tenant.id)["registered_desk_phones"] == []
    phone = system.baresip(
        "music-agent",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{system.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;regint=600",
    )
    wait_for(lambda: status(system, tenant.id)["registered_desk_phones"] == [username], "the registration to show")
    assert status(system, other.id)["registered_desk_phones"] == []  # another tenant sees none of it
    agent = tenant.agent("agent1", available=False)  # signed in, on break: the caller waits

    caller = call_and_hear(system, number, "music-caller", "uploaded")
    assert status(system, tenant.id)["calls_now"] == 1
    assert status(system, other.id)["calls_now"] == 0
    sign_in_page(system.harness.client)
    page = system.harness.client.get(f"/admin/{tenant.id}/voice").text
    assert 'data-calls-now="1"' in page
    assert 'data-registered-desk-phones="1"' in page
    (artifacts_dir / "voice-page-during-a-call.html").write_text(page)  # the status panel with voice on, to look at

    response = system.harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    assert response.status_code == 200, response.text
    call = wait_for(
        lambda: (found := interaction(system, tenant.id)) and found["state"] == "connected" and found,
        "the agent to answer",
    )
    # half a second of the agent (the run length the hold check below counts), so the hold's music follows it
    wait_for(lambda: runs(labels_of(caller.heard(), HEARS), 5)[-1:] == ["agent"], "the caller to hear the agent")
    held = system.harness.client.post(f"/api/v1/me/interactions/{call['id']}/hold", headers=agent)
    assert held.status_code == 200, held.text
    wait_for(
        lambda: runs(labels_of(caller.heard(), HEARS), 5)[-2:] == ["agent", "uploaded"],
        "the held caller to hear the uploaded music",
    )
    heard = runs(labels_of(caller.heard(), HEARS), 3)
    assert "music" not in heard, heard  # never the default
    caller.command("hangup")
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the desk phone to be hung up")
    wait_for(lambda: status(system, tenant.id)["calls_now"] == 0, "the call to leave the count")

    elsewhere = call_and_hear(system, other_number, "other-tenant-caller", "music")
    assert "uploaded" not in runs(labels_of(elsewhere.heard(), HEARS), 3)
    elsewhere.command("hangup")

    reset = system.harness.client.delete(f"/api/v1/tenants/{tenant.id}/voice/hold-music", headers=system.harness.admin)
    assert reset.status_code == 200, reset.text
    again = call_and_hear(system, number, "caller-after-reset", "music")
    assert "uploaded" not in runs(labels_of(again.heard(), HEARS), 3)
    again.command("hangup")


def test_a_waiting_caller_hears_an_uploaded_mp3(voice_system: VoiceSystem, tmp_path: Path) -> None:
    """rtpengine is given the stored file's path and decodes the MP3 itself (FFmpeg's libavformat): no
    conversion at upload."""
    system = voice_system
    tenant, number = system.tenant()
    music = mp3_tone(tmp_path / "ours.mp3", UPLOADED_TONE, 3)
    response = system.harness.client.put(
        f"/api/v1/tenants/{tenant.id}/voice/hold-music",
        files={"audio": (music.name, music.read_bytes(), "audio/mpeg")},
        headers=system.harness.admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["content_type"] == "audio/mpeg"
    tenant.agent("agent1", available=False)  # signed in, on break: the caller waits
    caller = call_and_hear(system, number, "mp3-caller", "uploaded")
    assert "music" not in runs(labels_of(caller.heard(), HEARS), 3)
    caller.command("hangup")
