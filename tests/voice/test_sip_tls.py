"""SIP over TLS for desk phones and the carrier trunk (`CALLBRIDGE_VOICE_SIP_TLS_PORT`): Kamailio serves the
certificate of `CALLBRIDGE_VOICE_WSS_CERT`/`_KEY` on its SIP TLS port. A baresip desk phone registers over
`;transport=tls` with its digest credentials, a baresip caller at a trunk address calls over TLS, and both hear
each other's tone; a wrong password over TLS gets 403 and registers nothing; an INVITE over TLS from outside the
trunk's addresses gets 403 and queues nothing. The certificate is self-signed, made here with openssl.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from tests.voice.conftest import (
    AGENT_TONE,
    CALLER_TONE,
    DEADLINE,
    VoiceSystem,
    free_ports,
    require_engines,
    require_tls_tools,
    running_voice_system,
    self_signed_certificate,
    voice_settings,
    wait_for,
)
from tests.voice.test_calls import AGENT_HEARS, CALLER_HEARS, interaction, labels_of


def make_certificate(cert: Path, key: Path) -> int:
    """A self-signed certificate for 127.0.0.1 (openssl picks a random serial), written to `cert` and `key` as a
    renewal tool would: each file replaced at once. Returns the serial."""
    cert_new, key_new = cert.with_suffix(".new"), key.with_suffix(".new")
    self_signed_certificate(cert_new, key_new)
    key_new.replace(key)
    cert_new.replace(cert)
    return serial_of_file(cert)


def serial_of_file(cert: Path) -> int:
    return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require_tls_tools()
    folder = tmp_path_factory.mktemp("sip-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    make_certificate(cert, key)
    return cert, key


@pytest.fixture(scope="module")
def tls_port() -> int:
    (port,) = free_ports(1, spacing=3)
    return port


@pytest.fixture(scope="module")
def voice_system(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path], tls_port: int
) -> Iterator[VoiceSystem]:
    require_engines()
    tmp = tmp_path_factory.mktemp("voice-tls")
    cert, key = certificate
    settings = voice_settings(21000) | {
        "voice_sip_tls_port": tls_port,
        "voice_wss_cert": cert,
        "voice_wss_key": key,
    }
    with running_voice_system(tmp, settings) as system:
        yield system


# ---------------------------------------------------------------- a bare SIP client over TLS (the refusals)


@contextlib.contextmanager
def tls_connection(port: int, source: str = "127.0.0.1") -> Iterator[ssl.SSLSocket]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed: what is checked here is which certificate is served
    raw = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE, source_address=(source, 0))
    with context.wrap_socket(raw) as connection:
        yield connection


def served_serial(port: int) -> int:
    """The serial of the certificate a new TLS connection to `port` is shown."""
    with tls_connection(port) as connection:
        der = connection.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


class SipOverTls:
    """Requests written by hand on one TLS connection, answers read back (status and headers)."""

    def __init__(self, connection: ssl.SSLSocket) -> None:
        self.connection = connection
        self.local = connection.getsockname()
        self.buffer = b""

    def request(self, text: str) -> tuple[int, str]:
        parts = re.split(r"\n\s*\n", text.strip(), maxsplit=1)
        head, body = parts[0], parts[1] if len(parts) > 1 else ""
        lines = [line.strip() for line in head.strip().splitlines()]
        body = "".join(line.strip() + "\r\n" for line in body.strip().splitlines())
        lines.append(f"Content-Length: {len(body.encode())}")
        self.connection.sendall(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
        while True:
            status, headers = self._read()
            if status >= 200:
                return status, headers

    def _read(self) -> tuple[int, str]:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.connection.recv(65536)
            assert chunk, "Kamailio closed the connection"
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        while len(rest) < length:
            rest += self.connection.recv(65536)
        self.buffer = rest[length:]
        text = head.decode()
        return int(text.split()[1]), text


def register(sip: SipOverTls, port: int, user: str, password: str) -> int:
    """REGISTER, answered with a digest computed from `password`: the final status."""
    host, local_port = sip.local
    call_id = secrets.token_hex(8)
    uri = f"sip:127.0.0.1:{port};transport=tls"

    def message(cseq: int, authorization: str = "") -> str:
        return f"""REGISTER {uri} SIP/2.0
            Via: SIP/2.0/TLS {host}:{local_port};branch=z9hG4bK{secrets.token_hex(6)};rport
            From: <sip:{user}@127.0.0.1>;tag={secrets.token_hex(4)}
            To: <sip:{user}@127.0.0.1>
            Call-ID: {call_id}
            CSeq: {cseq} REGISTER
            Contact: <sip:{user}@{host}:{local_port};transport=tls>
            Max-Forwards: 70
            Expires: 600{authorization}
            """

    status, headers = sip.request(message(1))
    assert status == 401, headers
    realm = re.search(r'realm="([^"]+)"', headers).group(1)  # type: ignore[union-attr]
    nonce = re.search(r'nonce="([^"]+)"', headers).group(1)  # type: ignore[union-attr]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5

    response = md5(f"{md5(f'{user}:{realm}:{password}')}:{nonce}:{md5(f'REGISTER:{uri}')}")
    authorization = (
        f'\nAuthorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5'
    )
    status, _ = sip.request(message(2, authorization))
    return status


# ---------------------------------------------------------------- the tests


def test_a_desk_phone_registers_over_tls_and_a_trunk_call_over_tls_carries_audio_both_ways(
    voice_system: VoiceSystem, certificate: tuple[Path, Path], tls_port: int
) -> None:
    system = voice_system
    cert, _ = certificate
    tls = (f"sip_cafile {cert}",)
    tenant, number = system.tenant()
    username = system.desk_phone(tenant, "agent1")
    phone = system.baresip(
        "tls-agent-phone",
        AGENT_TONE,
        f"<sip:{username}@127.0.0.1:{tls_port};transport=tls>;auth_pass=desk-phone-secret;answermode=auto;regint=600",
        config=tls,
    )
    wait_for(lambda: system.registered(username), "the desk phone's registration over TLS")
    contacts = str(system.voice.rpc.call("ul.lookup", "location", username)).lower()
    assert "transport=tls" in contacts, contacts  # registered over TLS, and reached back over that connection
    agent = tenant.agent("agent1", available=False)

    caller = system.baresip(
        "tls-caller", CALLER_TONE, "<sip:+14155550111@127.0.0.1;transport=tls>;regint=0", config=tls
    )
    caller.command("dial", f"sip:{number}@127.0.0.1:{tls_port};transport=tls")
    wait_for(lambda: caller.saw("CALL_ESTABLISHED"), "the trunk's call over TLS to be answered")
    queued = wait_for(lambda: interaction(system, tenant.id), "the interaction")
    assert queued["from_address"] == "+14155550111"

    response = system.harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    assert response.status_code == 200, response.text
    wait_for(lambda: (interaction(system, tenant.id) or {}).get("state") == "connected", "the agent to answer")
    wait_for(lambda: "agent" in labels_of(caller.heard(), CALLER_HEARS), "the caller to hear the agent")
    wait_for(lambda: "caller" in labels_of(phone.heard(), AGENT_HEARS), "the agent to hear the caller")

    # the controller's BYE reaches the desk phone over its TLS connection, the caller's over the trunk's
    response = system.harness.client.post(f"/api/v1/me/interactions/{queued['id']}/end", json={}, headers=agent)
    assert response.status_code == 200, response.text
    wait_for(lambda: phone.saw("CALL_CLOSED"), "the desk phone to be hung up")
    wait_for(lambda: caller.saw("CALL_CLOSED"), "the caller to be hung up")


def test_a_wrong_password_over_tls_gets_403_and_registers_nothing(voice_system: VoiceSystem, tls_port: int) -> None:
    system = voice_system
    tenant, _ = system.tenant()
    username = system.desk_phone(tenant, "agent2", password="the-right-password")
    with tls_connection(tls_port) as connection:
        sip = SipOverTls(connection)
        assert register(sip, tls_port, username, "a-wrong-password") == 403
        assert not system.registered(username)
        assert register(sip, tls_port, "nobody-here", "a-wrong-password") == 403
        assert not system.registered("nobody-here")
        # the same client, the right password: the refusals were the password's
        assert register(sip, tls_port, username, "the-right-password") == 200
    assert system.registered(username)


def test_an_invite_over_tls_from_outside_the_trunk_addresses_gets_403_and_queues_nothing(
    voice_system: VoiceSystem, tls_port: int
) -> None:
    system = voice_system
    tenant, number = system.tenant()
    with tls_connection(tls_port, source="127.0.0.2") as connection:  # the trunk is 127.0.0.1/32
        sip = SipOverTls(connection)
        host, local_port = sip.local
        status, headers = sip.request(
            f"""INVITE sip:{number}@127.0.0.1:{tls_port};transport=tls SIP/2.0
            Via: SIP/2.0/TLS {host}:{local_port};branch=z9hG4bK{secrets.token_hex(6)};rport
            From: <sip:+14155550123@{host}>;tag={secrets.token_hex(4)}
            To: <sip:{number}@127.0.0.1>
            Call-ID: {secrets.token_hex(8)}
            CSeq: 1 INVITE
            Contact: <sip:+14155550123@{host}:{local_port};transport=tls>
            Max-Forwards: 70
            Content-Type: application/sdp

            v=0
            o=- 1 1 IN IP4 {host}
            s=-
            c=IN IP4 {host}
            t=0 0
            m=audio 40000 RTP/AVP 0
            a=rtpmap:0 PCMU/8000
            """
        )
    assert status == 403, headers
    assert interaction(system, tenant.id) is None


def test_a_renewed_certificate_is_served_to_new_connections_without_restarting_kamailio(
    voice_system: VoiceSystem, certificate: tuple[Path, Path], tls_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    system = voice_system
    cert, key = certificate
    kamailio = next(process for process in system.voice.processes if process.name == "kamailio")
    pid = kamailio.pid
    ws_port = system.voice.layout.ws_port  # the WSS port serves the same certificate
    old = serial_of_file(cert)
    assert served_serial(tls_port) == old

    # half a renewal: a new certificate whose key is not the one on disk; Kamailio refuses it, keeps the old one
    stray = cert.parent / "stray"
    stray.mkdir(exist_ok=True)
    make_certificate(stray / "cert.pem", stray / "key.pem")
    (stray / "cert.pem").replace(cert)
    wait_for(
        lambda: any("was not loaded" in record.getMessage() for record in caplog.records),
        "the refused reload to be logged",
    )
    assert served_serial(tls_port) == old

    new = make_certificate(cert, key)  # the whole renewal, as certbot writes it
    assert new != old
    wait_for(lambda: served_serial(tls_port) == new, "the new certificate on a new connection")
    assert served_serial(ws_port) == new
    assert kamailio.pid == pid
    assert kamailio.running()
