"""Click to dial over SIP: the agent's desk phone rings first, then the customer at the carrier trunk (a test
peer listening where CALLBRIDGE_VOICE_TRUNK_ADDRESS points); what each side heard is checked."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.voice.conftest import AGENT_TONE, CALLER_TONE, DEADLINE, VoiceSystem, wait_for
from tests.voice.conftest import _free as port_free
from tests.voice.test_calls import labels_of, runs
from tests.voice.test_transfers import desk_phone

from callbridge.store.live_state import stored_interaction_row

CUSTOMER = "+14155550188"
HEARS_AGENT = {"agent": (AGENT_TONE,)}
HEARS_CUSTOMER = {"customer": (CALLER_TONE,)}

BUSY_CARRIER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="a busy line at the carrier">
  <recv request="INVITE" />
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]busy[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK" />
</scenario>
"""


def dial(system: VoiceSystem, agent: dict[str, str], number: str = "+1 (415) 555-0188") -> dict[str, Any]:
    placed = system.harness.client.post("/api/v1/me/calls", json={"to_address": number}, headers=agent)
    assert placed.status_code == 201, placed.text
    result: dict[str, Any] = placed.json()
    return result


def test_click_to_dial_rings_the_agents_phone_then_the_customer_and_bridges_them(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant()
    phone = desk_phone(system, tenant, "agent1", AGENT_TONE)
    customer = system.baresip(
        "customer",
        CALLER_TONE,
        f"<sip:{CUSTOMER}@127.0.0.1:{system.trunk_port}>;regint=0;answermode=auto",
        sip_port=system.trunk_port,
    )
    agent = tenant.agent("agent1", available=False)

    call = dial(system, agent)
    assert (call["direction"], call["state"], call["to_address"]) == ("outbound", "connected", "+1 (415) 555-0188")
    assert call["id"].startswith("sip-")  # ended as failed if Callbridge restarts while it is live
    rung = wait_for(lambda: phone.saw("CALL_ESTABLISHED"), "the agent's phone to answer")
    assert CUSTOMER in str(rung.get("peeruri", "")), rung  # the phone shows whom it is calling
    answered = wait_for(lambda: customer.saw("CALL_ESTABLISHED"), "the customer to answer")
    assert number in str(answered.get("peeruri", "")), answered  # the tenant's number as caller id
    wait_for(lambda: "customer" in runs(labels_of(phone.heard(), HEARS_CUSTOMER)), "the agent to hear the customer")
    wait_for(lambda: "agent" in runs(labels_of(customer.heard(), HEARS_AGENT)), "the customer to hear the agent")

    customer.command("hangup")
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the agent's phone to be hung up")
    ended = wait_for(
        lambda: (
            (row := stored_interaction_row(system.harness.services.engine, tenant.id, call["id"]))
            and row.state in ("wrap_up", "completed")
            and row
        ),
        "the interaction to end",
    )
    assert ended.end_reason == "the customer hung up"
    customer.stop()  # the trunk's port is the next test's


def test_a_busy_customer_ends_the_interaction_as_busy(voice_system: VoiceSystem, tmp_path: Path) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    phone = desk_phone(system, tenant, "agent1", AGENT_TONE)
    (tmp_path / "busy.xml").write_text(BUSY_CARRIER)
    carrier = subprocess.Popen(
        ["sipp", "-sf", "busy.xml", "-i", "127.0.0.1", "-p", str(system.trunk_port), "-m", "1", "-nostdin"]
        + ["-timeout", f"{DEADLINE:.0f}s"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: not port_free(system.trunk_port), "the carrier (sipp) to listen")
        busy_line(system, tenant, phone)
        assert carrier.wait(timeout=DEADLINE) == 0  # it answered its one call as scripted
    finally:
        if carrier.poll() is None:
            carrier.kill()
            carrier.wait()


def busy_line(system: VoiceSystem, tenant: Any, phone: Any) -> None:
    agent = tenant.agent("agent1", available=False)
    call = dial(system, agent, "+14155550177")
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the agent's phone to be hung up")
    ended = wait_for(
        lambda: (
            (row := stored_interaction_row(system.harness.services.engine, tenant.id, call["id"]))
            and row.state in ("wrap_up", "completed")
            and row
        ),
        "the interaction to end",
    )
    assert ended.end_reason == "busy"


def test_a_number_that_cannot_be_dialled_is_refused_naming_the_field(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    desk_phone(system, tenant, "agent1", AGENT_TONE)
    agent = tenant.agent("agent1", available=False)
    refused = system.harness.client.post("/api/v1/me/calls", json={"to_address": "call me"}, headers=agent)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "to_address"
