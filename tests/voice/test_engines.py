"""Callbridge supervises the engines it started: `/readyz` says when one does not answer, and one that dies
is started again (Kamailio gets the desk phones' credentials back)."""

from __future__ import annotations

import os
import signal

from tests.voice.conftest import VoiceSystem, wait_for
from tests.voice.test_refusals import REGISTER

from callbridge.store.live_state import stored_interaction_row


def engine(system: VoiceSystem, name: str) -> int:
    pid = engine_pid(system, name)
    if pid is None:
        raise AssertionError(f"{name} is not running")
    return pid


def engine_pid(system: VoiceSystem, name: str) -> int | None:
    """None while it is not running, e.g. between the old process's end and the new one's start."""
    for process in system.voice.processes:
        if process.name == name and process.pid is not None:
            pid: int = process.pid
            return pid
    return None


def test_readyz_says_which_engine_does_not_answer(voice_system: VoiceSystem) -> None:
    client = voice_system.harness.client
    assert client.get("/readyz").json() == {"status": "ready"}
    rtpengine = engine(voice_system, "rtpengine")
    os.kill(rtpengine, signal.SIGSTOP)  # alive but silent: not restarted, not ready
    try:
        down = wait_for(lambda: client.get("/readyz").status_code == 503 and client.get("/readyz"), "readyz 503")
        assert down.json() == {"status": "voice engines down: rtpengine"}
    finally:
        os.kill(rtpengine, signal.SIGCONT)
    wait_for(lambda: client.get("/readyz").status_code == 200, "readyz 200 again")


def test_a_kamailio_that_dies_is_started_again_with_the_desk_phones(voice_system: VoiceSystem) -> None:
    tenant, _number = voice_system.tenant()
    username = voice_system.desk_phone(tenant, "agent1", password="the-right-password")
    before = engine(voice_system, "kamailio")
    os.kill(before, signal.SIGKILL)
    wait_for(lambda: engine_pid(voice_system, "kamailio") not in (None, before), "kamailio to be started again")
    wait_for(lambda: voice_system.harness.client.get("/readyz").status_code == 200, "readyz 200")
    result = voice_system.sipp(REGISTER.format(user=username, password="the-right-password", code=200))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_a_call_live_when_voice_stopped_uncleanly_ends_as_failed_when_it_starts_again(
    voice_system: VoiceSystem,
) -> None:
    tenant, number = voice_system.tenant()
    client = voice_system.harness.client
    # what the controller recorded for a call before the process was killed (its SIP dialog died with it)
    incoming = {"event_id": "lost-1", "type": "call.incoming", "call_id": "sip-lost-call", "queue_id": "sales"}
    response = client.post("/api/v1/telephony/events", json={**incoming, "to_address": number}, headers=tenant.pbx)
    assert response.status_code == 200, response.text
    assert response.json()["interaction"]["state"] == "queued"

    channels = client.app.state.channels  # type: ignore[attr-defined]
    voice = channels.voice
    voice_system.harness.run(voice.stop())
    voice_system.harness.run(voice.start())
    channels.router.voice = voice.controller

    ended = stored_interaction_row(voice_system.harness.services.engine, tenant.id, "sip-lost-call")
    assert ended is not None
    assert ended.state == "failed"
    assert client.get("/readyz").status_code == 200
