"""What the SIP edge refuses, said by a real SIP peer (sipp): an unknown number, a caller outside the trunk's
addresses, a desk phone with the wrong password. Kamailio must not be an open relay."""

from __future__ import annotations

import logging

import pytest
from tests.voice.conftest import VoiceSystem, wait_for

INVITE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="INVITE answered {code}">
  <send retrans="500">
    <![CDATA[
      INVITE sip:{number}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+14155550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{number}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:+14155550123@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="{code}"/>
  <send>
    <![CDATA[
      ACK sip:{number}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+14155550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{number}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""

REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="REGISTER answered {code}">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Expires: 60
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port]>
      [authentication username={user} password={password}]
      Expires: 60
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="{code}"/>
</scenario>
"""


def test_a_call_to_an_unknown_number_gets_404_and_a_log_line(
    voice_system: VoiceSystem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="callbridge.channels.sip")
    result = voice_system.sipp(INVITE.format(number="+19995550000", code=404))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert any("unknown number +19995550000" in record.getMessage() for record in caplog.records)
    metrics = voice_system.harness.client.get("/metrics").text
    assert 'callbridge_voice_refused_calls_total{reason="unknown_number"}' in metrics


def test_a_call_from_outside_the_trunk_addresses_gets_403_even_to_a_known_number(voice_system: VoiceSystem) -> None:
    _tenant, number = voice_system.tenant()
    result = voice_system.sipp(INVITE.format(number=number, code=403), local_ip="127.0.0.2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_a_desk_phone_registers_with_its_password_and_is_refused_with_another(voice_system: VoiceSystem) -> None:
    tenant, _number = voice_system.tenant()
    username = voice_system.desk_phone(tenant, "agent2", password="the-right-password")
    wrong = voice_system.sipp(REGISTER.format(user=username, password="not-the-password", code=403))
    assert wrong.returncode == 0, wrong.stdout[-2000:] + wrong.stderr[-2000:]
    assert not voice_system.registered(username)
    right = voice_system.sipp(REGISTER.format(user=username, password="the-right-password", code=200))
    assert right.returncode == 0, right.stdout[-2000:] + right.stderr[-2000:]
    assert voice_system.registered(username)


def test_an_unknown_user_cannot_register(voice_system: VoiceSystem) -> None:
    result = voice_system.sipp(REGISTER.format(user="nobody-here", password="whatever-it-is", code=403))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


MALFORMED = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="malformed INVITE answered 400">
  <send>
    <![CDATA[
      INVITE sip:+18005550100@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+14155550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:+18005550100@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:+14155550123@[local_ip]:[local_port]>
      Expires: soon
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="400"/>
</scenario>
"""


def test_a_malformed_request_gets_400_and_a_log_line_and_the_edge_keeps_working(voice_system: VoiceSystem) -> None:
    result = voice_system.sipp(MALFORMED)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    log = voice_system.voice.voice_dir / "kamailio.log"
    # Kamailio writes its log on its own time: the 400 has been received, the line may come just after
    wait_for(lambda: "voice: malformed SIP from 127.0.0.1" in log.read_text(errors="replace"), "the log line")
    again = voice_system.sipp(INVITE.format(number="+19995550001", code=404))
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
