"""The softphone's STUN/TURN servers: URLs checked at start-up (naming the variable), and TURN REST API credentials
(coturn `use-auth-secret`) that expire with the softphone's SIP credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from pydantic import ValidationError

from callbridge.channels.sip import layout_from, softphones_from
from callbridge.channels.sip.engines import tls_config
from callbridge.channels.sip.webrtc import IceServers, Softphones, softphone_user, turn_password
from callbridge.config import Settings

DB = "sqlite:///var/x.db"


def test_the_turn_password_is_the_turn_rest_apis_hmac_sha1_of_the_user_name() -> None:
    # computed here with hmac, not with the function under test: coturn checks exactly this
    username = "1800000600:web~0123456789abcdef01234567"
    expected = base64.b64encode(hmac.new(b"coturn-shared", username.encode(), hashlib.sha1).digest()).decode()
    assert turn_password("coturn-shared", username) == expected
    # and a vector from openssl (`echo -n 1700000000:alice | openssl dgst -sha1 -hmac secret -binary | base64`)
    assert turn_password("secret", "1700000000:alice") == "d8soP47RbdIKLDUOpnJPVQyq5Ts="


def test_a_softphones_ice_servers_carry_turn_credentials_that_end_with_its_sip_ones() -> None:
    servers = IceServers(
        stun_urls=("stun:stun.example.com:3478",),
        turn_urls=("turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"),
        turn_secret="coturn-shared",
    )
    softphones = Softphones(ws_url="ws://x/", domain="127.0.0.1", ttl_seconds=600, secret="s", ice_servers=servers)
    found = softphones.credentials("acme", "agent1", 1_800_000_000)
    username = f"1800000600:{softphone_user('acme', 'agent1')}"
    mac = hmac.new(b"coturn-shared", username.encode(), hashlib.sha1).digest()
    assert found.ice_servers == [
        {"urls": ["stun:stun.example.com:3478"]},
        {
            "urls": ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"],
            "username": username,
            "credential": base64.b64encode(mac).decode(),
        },
    ]
    assert found.username == username  # the TURN user expires when the SIP credential does
    assert Softphones(ws_url="ws://x/", domain="h", ttl_seconds=600).credentials("a", "b", 0).ice_servers == []


def test_ice_urls_are_parsed_from_the_environment() -> None:
    settings = Settings(
        database_url=DB,
        voice_stun_urls=" stun:192.0.2.1 , stun:[2001:db8::1]:3478",
        voice_turn_urls="turn:turn.example.com:3478?transport=tcp",
        voice_turn_secret="s",
    )
    assert settings.voice_stun_urls.startswith(" stun:")


@pytest.mark.parametrize(
    ("setting", "value", "variable"),
    [
        ("voice_stun_urls", "stun.example.com:3478", "CALLBRIDGE_VOICE_STUN_URLS"),
        ("voice_stun_urls", "turn:turn.example.com", "CALLBRIDGE_VOICE_STUN_URLS"),
        ("voice_stun_urls", "stun:stun.example.com:3478?transport=udp", "CALLBRIDGE_VOICE_STUN_URLS"),
        ("voice_turn_urls", "turn:turn.example.com:99999", "CALLBRIDGE_VOICE_TURN_URLS"),
        ("voice_turn_urls", "https://turn.example.com", "CALLBRIDGE_VOICE_TURN_URLS"),
        ("voice_turn_urls", "turn:turn.example.com?transport=sctp", "CALLBRIDGE_VOICE_TURN_URLS"),
    ],
)
def test_a_wrong_ice_url_is_refused_at_start_up_naming_its_variable(setting: str, value: str, variable: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        Settings(database_url=DB, voice_turn_secret="s", **{setting: value})


def test_turn_without_its_secret_or_a_secret_without_turn_is_refused() -> None:
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_TURN_SECRET"):
        Settings(database_url=DB, voice_turn_urls="turn:turn.example.com")
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_TURN_URLS names no TURN server"):
        Settings(database_url=DB, voice_turn_secret="s")


def test_wss_needs_both_its_files_and_makes_the_softphones_url_wss(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("certificate")
    key.write_text("key")
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_WSS_CERT and CALLBRIDGE_VOICE_WSS_KEY go together"):
        Settings(database_url=DB, voice_wss_cert=cert)
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_WSS_KEY: no such file"):
        Settings(database_url=DB, voice_wss_cert=cert, voice_wss_key=tmp_path / "missing.pem")
    settings = Settings(database_url=DB, voice_wss_cert=cert, voice_wss_key=key, voice_ws_port=5443)
    found = softphones_from(settings)
    assert found is not None
    assert found.ws_url == "wss://127.0.0.1:5443/"
    assert layout_from(settings, tmp_path).tls == (cert, key)


def test_sip_over_tls_needs_the_certificate_and_serves_it_from_the_tls_config(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("certificate")
    key.write_text("key")
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_SIP_TLS_PORT needs CALLBRIDGE_VOICE_WSS_CERT"):
        Settings(database_url=DB, voice_sip_tls_port=5061)
    settings = Settings(database_url=DB, voice_wss_cert=cert, voice_wss_key=key, voice_sip_tls_port=5061)
    layout = layout_from(settings, tmp_path)
    assert layout.sip_tls_port == 5061
    assert f"certificate = {cert}" in tls_config(layout)
    assert f"private_key = {key}" in tls_config(layout)


def test_calls_to_the_carrier_over_tls_need_the_tls_port_and_check_its_certificate_unless_told_not_to(
    tmp_path: Path,
) -> None:
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "carrier-ca.pem"
    for path in (cert, key, ca):
        path.write_text("pem")
    tls = {"voice_wss_cert": cert, "voice_wss_key": key, "voice_sip_tls_port": 5061}
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_TRUNK_TRANSPORT=tls needs CALLBRIDGE_VOICE_SIP_TLS"):
        Settings(database_url=DB, voice_trunk_address="192.0.2.7", voice_trunk_transport="tls")
    with pytest.raises(ValidationError, match="voice_trunk_transport"):
        Settings(database_url=DB, voice_trunk_address="192.0.2.7", voice_trunk_transport="tcp", **tls)
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_TRUNK_CA_FILE: no such file"):
        Settings(database_url=DB, voice_trunk_transport="tls", voice_trunk_ca_file=tmp_path / "none.pem", **tls)

    settings = Settings(database_url=DB, voice_trunk_address="192.0.2.7", voice_trunk_transport="tls", **tls)
    layout = layout_from(settings, tmp_path)
    assert (layout.trunk_address, layout.trunk_tls) == (("192.0.2.7", 5061), True)  # the TLS port by default
    assert "ca_list = /etc/ssl/certs/ca-certificates.crt\n" in tls_config(layout)  # the system's CAs
    assert "verify_certificate = yes\nrequire_certificate = yes\n" in tls_config(layout)

    settings = Settings(
        database_url=DB,
        voice_trunk_address="192.0.2.7:5071",
        voice_trunk_transport="tls",
        voice_trunk_ca_file=ca,
        **tls,
    )
    assert f"ca_list = {ca}\n" in tls_config(layout_from(settings, tmp_path))
    settings = Settings(
        database_url=DB, voice_trunk_address="192.0.2.7", voice_trunk_transport="tls", voice_trunk_verify=False, **tls
    )
    assert "ca_list" not in tls_config(layout_from(settings, tmp_path))

    udp = layout_from(Settings(database_url=DB, voice_trunk_address="192.0.2.7", **tls), tmp_path)
    assert (udp.trunk_address, udp.trunk_tls) == (("192.0.2.7", 5060), False)
    assert "callbridge-trunk" not in tls_config(udp)
