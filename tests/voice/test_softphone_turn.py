"""STUN and TURN for the console's softphone, against a real coturn (Debian's `coturn`, started here by PID with
`use-auth-secret`): `GET /api/v1/me/softphone` names the servers with TURN REST API credentials, the console hands
them to sip.js's peer connection, and a call whose browser may use relayed candidates only (`iceTransportPolicy:
"relay"`, set by this test in the page, as a browser behind a symmetric NAT or a UDP-blocking firewall would
need) still carries the caller's and the browser's tones through coturn and rtpengine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import random
import secrets
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import missing_service
from tests.voice.audio import dominant_tones, first_run
from tests.voice.browser import BROWSER_TONE, WebPhoneSite, console
from tests.voice.conftest import (
    CALLER_TONE,
    DEADLINE,
    WEBPHONE_NUMBER,
    Baresip,
    free_ports,
    wait_for,
    webphone_site,
)

TURNSERVER = "/usr/bin/turnserver"

# Only relayed candidates: what a browser that cannot reach rtpengine directly ends up using.
RELAY_ONLY_JS = """
(() => {
  const Tracked = window.RTCPeerConnection;
  window.RTCPeerConnection = function (configuration) {
    return new Tracked({ ...(configuration || {}), iceTransportPolicy: "relay" });
  };
  window.RTCPeerConnection.prototype = Tracked.prototype;
})();
"""
# Each peer connection's configuration and the candidates its selected pair joins.
ICE_JS = """
async () => {
  const found = [];
  for (const pc of window.__softphonePeers || []) {
    const report = await pc.getStats();
    const byId = {};
    report.forEach((s) => { byId[s.id] = s; });
    let local = null, remote = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) {
        const pair = byId[s.selectedCandidatePairId];
        local = byId[pair.localCandidateId] || null;
        remote = byId[pair.remoteCandidateId] || null;
      }
    });
    const configuration = pc.getConfiguration();
    found.push({
      ice_servers: configuration.iceServers.map((s) => ({
        urls: [].concat(s.urls), username: s.username || null, credential: s.credential || null,
      })),
      policy: configuration.iceTransportPolicy,
      local: local && { type: local.candidateType, address: local.address, port: local.port },
      remote: remote && { type: remote.candidateType, address: remote.address, port: remote.port },
    });
  }
  return found;
}
"""


@dataclass
class Coturn:
    port: int
    secret: str
    log: Path


def _stun_answers(port: int) -> bool:
    """A STUN Binding request (RFC 5389) answered: coturn is listening."""
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + secrets.token_bytes(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.5)
        udp.sendto(request, ("127.0.0.1", port))
        try:
            answer = udp.recv(2048)
        except OSError:
            return False
    return answer[:2] == b"\x01\x01" and answer[8:20] == request[8:20]


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    if not Path(TURNSERVER).exists():
        missing_service("coturn", "as root run scripts/install-voice-engines (Debian's package coturn)")
    directory = tmp_path_factory.mktemp("coturn")
    (port,) = free_ports(1, spacing=2)
    relay_min = random.randrange(50000, 57000, 200)
    secret = secrets.token_hex(16)
    log = directory / "turnserver.log"
    command = [TURNSERVER, "-n", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1", "-p", str(port)]
    command += ["--min-port", str(relay_min), "--max-port", str(relay_min + 199), "--realm", "callbridge"]
    command += ["--use-auth-secret", f"--static-auth-secret={secret}", "--fingerprint", "--no-cli", "--no-tls"]
    command += ["--no-dtls", "--allow-loopback-peers", "--log-file", str(log), "--simple-log", "--no-stdout-log"]
    command += ["--pidfile", str(directory / "turnserver.pid"), "--verbose"]
    output = (directory / "turnserver.out").open("wb")
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_for(lambda: process.poll() is None and _stun_answers(port), "coturn to answer STUN")
        yield Coturn(port, secret, log)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, coturn: Coturn) -> Iterator[WebPhoneSite]:
    """The softphone site, its ICE servers coturn (as STUN and as TURN over UDP)."""
    servers = {
        "voice_stun_urls": f"stun:127.0.0.1:{coturn.port}",
        "voice_turn_urls": f"turn:127.0.0.1:{coturn.port}?transport=udp",
        "voice_turn_secret": coturn.secret,
    }
    with webphone_site(tmp_path_factory, **servers) as served:
        yield served


def expected_ice_servers(coturn: Coturn, username: str) -> list[dict[str, Any]]:
    credential = base64.b64encode(hmac.new(coturn.secret.encode(), username.encode(), hashlib.sha1).digest())
    turn = f"turn:127.0.0.1:{coturn.port}?transport=udp"
    return [
        {"urls": [f"stun:127.0.0.1:{coturn.port}"], "username": None, "credential": None},
        {"urls": [turn], "username": username, "credential": credential.decode()},
    ]


def test_the_softphone_is_given_stun_and_turn_servers_with_turn_rest_api_credentials(
    site: WebPhoneSite, coturn: Coturn
) -> None:
    agent = site.agent("agent2")
    found = site.client.get("/api/v1/me/softphone", headers=agent).json()
    assert found["available"] is True, found
    # the TURN user is the SIP credential's `<expiry>:<softphone user>`: both end together
    assert found["ice_servers"] == expected_ice_servers(coturn, found["username"])


@pytest.mark.browser
def test_a_call_relayed_through_turn_carries_both_sides_audio(
    site: WebPhoneSite, chromium: Any, coturn: Coturn
) -> None:
    with console(site, chromium, "agent1", RELAY_ONLY_JS) as phone:
        credentials = site.client.get("/api/v1/me/softphone", headers=phone.agent).json()
        response = site.client.put("/api/v1/me/status", json={"status": "available"}, headers=phone.agent)
        assert response.status_code == 200, response.text
        caller = Baresip(site.workdir / "relayed-caller", CALLER_TONE, "<sip:+14155550124@127.0.0.1>;regint=0")
        try:
            caller.start()
            caller.command("dial", f"sip:{WEBPHONE_NUMBER}@127.0.0.1:{site.sip_port}")
            offered = wait_for(
                lambda: (found := site.interaction()) and found["state"] == "offered" and found,
                "the call to be offered",
            )
            wait_for(lambda: phone.phone_state.get_attribute("data-ringing") == offered["id"], "the softphone to ring")
            phone.page.locator(f'li.offer[data-interaction-id="{offered["id"]}"] button[data-action=accept]').click()
            wait_for(lambda: phone.phone_state.get_attribute("data-call") == "Established", "the softphone to answer")

            def caller_heard_the_browser() -> bool:
                heard = caller.heard()
                if heard is None or heard.stat().st_size < 4000:
                    return False
                return first_run(dominant_tones(heard, {"browser": (BROWSER_TONE,)}), "browser", 5) is not None

            wait_for(caller_heard_the_browser, "the caller to hear the browser's tone (through TURN)")
            phone.wait_to_hear(CALLER_TONE, "the browser to hear the caller's tone (through TURN)")

            (peer,) = phone.page.evaluate(ICE_JS)
            # what sip.js gave the peer connection is what the API named, credentials included (the TURN
            # credential of a renewal may be newer than this one: the console replaces them at each renewal)
            names = sorted(server["username"] or "" for server in peer["ice_servers"])
            assert peer["ice_servers"] == expected_ice_servers(coturn, names[-1]), peer
            assert names[-1].split(":", 1)[1] == credentials["username"].split(":", 1)[1]
            assert peer["policy"] == "relay"
            # the media went through coturn's relay port towards rtpengine
            assert peer["local"]["type"] == "relay", peer
            assert peer["local"]["port"] != coturn.port
            stats = phone.stats()
            assert stats["dtls"] == "connected", stats
            assert stats["packets"] > 0, stats
            log = coturn.log.read_text(errors="replace")
            assert f"user <{names[-1]}>" in log, log[-2000:]
            assert "ALLOCATE processed, success" in log, log[-2000:]
            print(f"\nrelayed: {peer['local']} ⇄ {peer['remote']}; inbound RTP {stats}")

            phone.page.locator("button[data-action=hang-up]").click()
            wait_for(lambda: caller.saw("CALL_CLOSED"), "the caller's call to end", timeout=DEADLINE)
        except Exception:
            print(coturn.log.read_text(errors="replace")[-3000:] if coturn.log.exists() else "no coturn log")
            raise
        finally:
            with contextlib.suppress(Exception):
                caller.stop()
