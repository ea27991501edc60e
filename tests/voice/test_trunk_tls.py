"""Calls out to the carrier over TLS (`CALLBRIDGE_VOICE_TRUNK_TRANSPORT=tls`): the carrier is a baresip that
answers only over TLS where `CALLBRIDGE_VOICE_TRUNK_ADDRESS` points, with a certificate signed by a test CA that
`CALLBRIDGE_VOICE_TRUNK_CA_FILE` names. Click to dial reaches it and both sides hear each other's tone; a carrier
whose certificate that CA did not sign gets no call: the interaction ends `failed`, saying the certificate is
not trusted, and the log says so for the admin.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.voice.conftest import (
    AGENT_TONE,
    CALLER_TONE,
    VoiceSystem,
    _port,
    free_ports,
    require_engines,
    require_tls_tools,
    running_voice_system,
    self_signed_certificate,
    voice_settings,
    wait_for,
)
from tests.voice.test_calls import labels_of, runs
from tests.voice.test_click_to_dial import CUSTOMER, HEARS_AGENT, HEARS_CUSTOMER, dial
from tests.voice.test_sip_tls import make_certificate
from tests.voice.test_transfers import desk_phone

from callbridge.store.live_state import stored_interaction_row


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A test CA, the carrier's certificate for 127.0.0.1 signed by it, and a self-signed one (no CA trusts it);
    each carrier file holds the certificate and its key, as baresip's `sip_certificate` reads them."""
    require_tls_tools()
    folder = tmp_path_factory.mktemp("trunk-tls")
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test carrier CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(ca_key), "-out", str(ca),
    )  # fmt: skip
    key, request, signed = folder / "carrier.key", folder / "carrier.csr", folder / "carrier.pem"
    openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(request),
    )  # fmt: skip
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(extensions), "-out", str(signed),
    )  # fmt: skip
    trusted = folder / "trusted-carrier.pem"
    trusted.write_text(signed.read_text() + key.read_text())
    stray_key, stray = folder / "stray.key", folder / "stray.pem"
    self_signed_certificate(stray, stray_key)
    untrusted = folder / "untrusted-carrier.pem"
    untrusted.write_text(stray.read_text() + stray_key.read_text())
    return {"ca": ca, "trusted": trusted, "untrusted": untrusted}


@pytest.fixture(scope="module")
def voice_system(tmp_path_factory: pytest.TempPathFactory, certificates: dict[str, Path]) -> Iterator[VoiceSystem]:
    require_engines()
    tmp = tmp_path_factory.mktemp("voice-trunk-tls")
    settings = voice_settings(50000)
    sip_port = _port(settings["voice_trunk_address"])  # the carrier's baresip: UDP here, TLS on the next port
    own_cert, own_key = tmp / "kamailio-cert.pem", tmp / "kamailio-key.pem"
    make_certificate(own_cert, own_key)  # Kamailio's own, served on its SIP TLS port
    (tls_port,) = free_ports(1, spacing=3)
    settings |= {
        "voice_sip_tls_port": tls_port,
        "voice_wss_cert": own_cert,
        "voice_wss_key": own_key,
        "voice_trunk_address": f"127.0.0.1:{sip_port + 1}",
        "voice_trunk_transport": "tls",
        "voice_trunk_ca_file": certificates["ca"],
    }
    with running_voice_system(tmp, settings, trunk_port=sip_port) as system:
        yield system


def carrier(system: VoiceSystem, name: str, certificate: Path) -> Any:
    """The carrier: answers calls to its TLS port (UDP to the trunk address reaches nobody)."""
    return system.baresip(
        name,
        CALLER_TONE,
        f"<sip:{CUSTOMER}@127.0.0.1:{system.trunk_port + 1};transport=tls>;regint=0;answermode=auto",
        sip_port=system.trunk_port,
        config=(f"sip_certificate {certificate}",),
    )


def ended_row(system: VoiceSystem, tenant_id: str, interaction_id: str) -> Any:
    return wait_for(
        lambda: (
            (row := stored_interaction_row(system.harness.services.engine, tenant_id, interaction_id))
            and row.state in ("wrap_up", "completed", "failed")
            and row
        ),
        "the interaction to end",
    )


def test_click_to_dial_reaches_a_carrier_over_tls_and_carries_audio_both_ways(
    voice_system: VoiceSystem, certificates: dict[str, Path]
) -> None:
    system = voice_system
    tenant, number = system.tenant()
    phone = desk_phone(system, tenant, "agent1", AGENT_TONE)
    customer = carrier(system, "trusted-carrier", certificates["trusted"])
    agent = tenant.agent("agent1", available=False)

    try:
        call = dial(system, agent)
        wait_for(lambda: phone.saw("CALL_ESTABLISHED"), "the agent's phone to answer")
        answered = wait_for(lambda: customer.saw("CALL_ESTABLISHED"), "the carrier to answer over TLS")
        assert number in str(answered.get("peeruri", "")), answered
        wait_for(lambda: "customer" in runs(labels_of(phone.heard(), HEARS_CUSTOMER)), "the agent to hear the customer")
        wait_for(lambda: "agent" in runs(labels_of(customer.heard(), HEARS_AGENT)), "the customer to hear the agent")

        # the agent ends it: the controller's BYE goes to the carrier over TLS too
        response = system.harness.client.post(f"/api/v1/me/interactions/{call['id']}/end", json={}, headers=agent)
        assert response.status_code == 200, response.text
        wait_for(lambda: customer.saw("CALL_CLOSED"), "the carrier to be hung up")
        wait_for(lambda: phone.saw("CALL_CLOSED"), "the agent's phone to be hung up")
        assert ended_row(system, tenant.id, call["id"]).state in ("wrap_up", "completed")
    finally:
        customer.stop()  # the trunk's port is the next test's


def test_a_carrier_whose_certificate_is_not_trusted_gets_no_call_and_the_agent_is_told_why(
    voice_system: VoiceSystem, certificates: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    system = voice_system
    tenant, _number = system.tenant()
    phone = desk_phone(system, tenant, "agent1", AGENT_TONE)
    impostor = carrier(system, "untrusted-carrier", certificates["untrusted"])
    agent = tenant.agent("agent1", available=False)

    try:
        call = dial(system, agent)
        ended = ended_row(system, tenant.id, call["id"])
        assert (ended.state, ended.end_reason) == (
            "failed",
            "the call could not be placed: the carrier's TLS certificate is not trusted (self-signed certificate)",
        )
        wait_for(lambda: phone.saw("CALL_CLOSED"), "the agent's phone to be hung up")
        assert not impostor.saw("CALL_INCOMING")  # the INVITE never reached it
        assert any(
            "not trusted" in record.getMessage() and "CALLBRIDGE_VOICE_TRUNK_CA_FILE" in record.getMessage()
            for record in caplog.records
        )
    finally:
        impostor.stop()
