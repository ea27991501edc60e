"""Calls out to a carrier that asks for credentials: the carrier is sipp, where CALLBRIDGE_VOICE_TRUNK_ADDRESS
points, answering the first INVITE with 407 Proxy-Authenticate and the retried one with 200 only when its digest
verifies against the user name and password it expects (403 otherwise). With the right password click to dial
connects and the carrier echoes the agent's audio back; with a wrong one the interaction ends failed, saying the
carrier refused the credentials, and the admin's log says so without the password.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.voice.conftest import (
    AGENT_TONE,
    DEADLINE,
    VoiceSystem,
    free_ports,
    require_engines,
    running_voice_system,
    voice_settings,
    wait_for,
)
from tests.voice.conftest import _free as port_free
from tests.voice.test_calls import labels_of, runs
from tests.voice.test_click_to_dial import dial
from tests.voice.test_transfers import desk_phone
from tests.voice.test_trunk_tls import ended_row

USERNAME = "callbridge-trunk"
PASSWORD = "s3cret-trunk-Pa55"
HEARS_ITSELF = {"agent": (AGENT_TONE,)}

# The carrier: challenges with 401, checks the retried INVITE's credentials (sipp's <verifyauth>, which reads the
# Authorization header only: sippy answers a 407 the same way, with Proxy-Authorization), answers 200 with an
# audio port it echoes RTP back from (-rtp_echo), or 403 when they do not verify; then waits for the BYE.
CHALLENGING_CARRIER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="a carrier that asks for credentials">
  <recv request="INVITE" />
  <send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]auth[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="carrier.example", nonce="4f1d2c3b5a69788796a5b4c3d2e1f001", algorithm=MD5
Content-Length: 0

]]></send>
  <recv request="ACK" />
  <recv request="INVITE">
    <action>
      <verifyauth assign_to="verified" username="%(username)s" password="%(password)s" />
    </action>
  </recv>
  <nop hide="true" test="verified" next="verified" />
  <send><![CDATA[
SIP/2.0 403 Forbidden
[last_Via:]
[last_From:]
[last_To:];tag=[pid]refused[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK" next="end" />
  <label id="verified" />
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]ok[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:carrier@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=carrier 1 1 IN IP4 [media_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv request="ACK" />
  <recv request="BYE" />
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="end" />
</scenario>
"""


@pytest.fixture(scope="module")
def voice_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceSystem]:
    require_engines()
    settings = voice_settings(40000) | {"voice_trunk_username": USERNAME, "voice_trunk_password": PASSWORD}
    with running_voice_system(tmp_path_factory.mktemp("voice-trunk-auth"), settings) as system:
        yield system


@contextlib.contextmanager
def carrier(system: VoiceSystem, folder: Path, password: str) -> Iterator[subprocess.Popen[bytes]]:
    """sipp as the carrier, expecting the trunk's user name and `password`, for one call; its audio port echoes."""
    (folder / "carrier.xml").write_text(CHALLENGING_CARRIER % {"username": USERNAME, "password": password})
    (media_port,) = free_ports(1, spacing=4)
    process = subprocess.Popen(
        ["sipp", "-sf", "carrier.xml", "-i", "127.0.0.1", "-p", str(system.trunk_port), "-m", "1", "-nostdin"]
        + ["-mi", "127.0.0.1", "-mp", str(media_port), "-rtp_echo", "-timeout", f"{DEADLINE:.0f}s"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: process.poll() is not None or not port_free(system.trunk_port), "the carrier to listen")
        assert process.poll() is None, "sipp refused the carrier's scenario"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_click_to_dial_answers_the_carriers_challenge_and_connects(voice_system: VoiceSystem, tmp_path: Path) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    phone = desk_phone(system, tenant, "agent1", AGENT_TONE)
    agent = tenant.agent("agent1", available=False)

    with carrier(system, tmp_path, PASSWORD) as peer:
        call = dial(system, agent)
        wait_for(lambda: phone.saw("CALL_ESTABLISHED"), "the agent's phone to answer")
        # the carrier echoes what it gets: the agent hears its own tone back, through the carrier's leg
        wait_for(
            lambda: "agent" in runs(labels_of(phone.heard(), HEARS_ITSELF)), "the agent to hear the carrier's echo"
        )
        response = system.harness.client.post(f"/api/v1/me/interactions/{call['id']}/end", json={}, headers=agent)
        assert response.status_code == 200, response.text
        assert peer.wait(timeout=DEADLINE) == 0  # it verified the credentials, answered, and got its BYE
        wait_for(lambda: phone.saw("CALL_CLOSED"), "the agent's phone to be hung up")

    # the admin sees that credentials are set, never the password
    status = system.harness.client.get(f"/api/v1/tenants/{tenant.id}/voice/status", headers=system.harness.admin)
    assert status.json()["trunk"]["credentials_set"] is True
    assert PASSWORD not in status.text


def test_a_carrier_refusing_the_credentials_fails_the_call_and_the_agent_is_told_why(
    voice_system: VoiceSystem, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    phone = desk_phone(system, tenant, "agent1", AGENT_TONE)
    agent = tenant.agent("agent1", available=False)
    with carrier(system, tmp_path, "not-the-trunks-password") as peer:
        call = dial(system, agent)
        ended = ended_row(system, tenant.id, call["id"])
        assert (ended.state, ended.end_reason) == (
            "failed",
            "the call could not be placed: the carrier refused the trunk's credentials (403 Forbidden)",
        )
        wait_for(lambda: phone.saw("CALL_CLOSED"), "the agent's phone to be hung up")
        assert peer.wait(timeout=DEADLINE) == 0  # it challenged, refused the retried INVITE, got the ACK
    assert any("refused the trunk's credentials" in record.getMessage() for record in caplog.records)
    assert not any(PASSWORD in record.getMessage() for record in caplog.records)
