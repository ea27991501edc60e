"""The console's softphone over WSS: Kamailio serves its WebSocket with TLS (its `tls` module) from a certificate
and key the operator names (`CALLBRIDGE_VOICE_WSS_CERT`, `CALLBRIDGE_VOICE_WSS_KEY`), `GET /api/v1/me/softphone`
names the wss:// URL, and a browser registers over it and carries a call's audio both ways. The certificate is
self-signed, made here with the openssl command; Chromium is told to accept it (`--ignore-certificate-errors`),
as a browser trusting the operator's CA would.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.voice.browser import WebPhoneSite, console
from tests.voice.conftest import DEADLINE, require_tls_tools, self_signed_certificate, webphone_site
from tests.voice.test_softphone_browser import run_call


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require_tls_tools()
    folder = tmp_path_factory.mktemp("wss")
    cert, key = folder / "cert.pem", folder / "key.pem"
    self_signed_certificate(cert, key)
    return cert, key


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path]) -> Iterator[WebPhoneSite]:
    cert, key = certificate
    with webphone_site(tmp_path_factory, voice_wss_cert=cert, voice_wss_key=key) as served:
        yield served


@pytest.fixture(scope="module")
def browser_args() -> list[str]:
    return ["--ignore-certificate-errors"]


def test_kamailio_serves_the_operators_certificate_and_the_softphone_is_told_wss(
    site: WebPhoneSite, certificate: tuple[Path, Path]
) -> None:
    found = site.client.get("/api/v1/me/softphone", headers=site.agent("agent2")).json()
    assert found["available"] is True, found
    assert found["ws_url"].startswith("wss://127.0.0.1:"), found
    port = int(found["ws_url"].rsplit(":", 1)[1].strip("/"))
    context = ssl.create_default_context(cafile=str(certificate[0]))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        served = tls.getpeercert(binary_form=True)
    assert served == ssl.PEM_cert_to_DER_cert(certificate[0].read_text())
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as plain:  # no plain WS on that port
        plain.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        plain.settimeout(5)
        try:
            answer = plain.recv(100)
        except (TimeoutError, ConnectionResetError):
            answer = b""
    assert not answer.startswith(b"HTTP/"), answer


@pytest.mark.browser
def test_the_console_softphone_registers_over_wss_and_a_call_carries_audio(site: WebPhoneSite, chromium: Any) -> None:
    started = time.perf_counter()
    with console(site, chromium, "agent1") as phone:
        registered = time.perf_counter() - started
        run_call(site, phone, registered)
