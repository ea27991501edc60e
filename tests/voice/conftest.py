"""Real phone calls: Callbridge with voice on, which starts Kamailio and rtpengine itself (generated configuration,
loopback ports, stopped by PID), and real SIP peers: baresip (sends its own tone from a WAV, records what it
hears with its sndfile module) and sipp (for the refusals). The browser softphone's tests add a served app and
Chromium with a fake microphone playing a tone (`site`, `browsers`, `chromium`; helpers in tests/voice/browser.py).

Missing engines skip with what to install; under CI=true they fail (tests/conftest.py `missing_service`).
Waits are on conditions, with a deadline (CALLBRIDGE_TEST_VOICE_DEADLINE seconds, 60 by default: generous, so
a loaded machine waits longer instead of failing).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from tests import waiting
from tests.channels.conftest import Tenant
from tests.conftest import CHROMIUM, missing_service
from tests.e2e.conftest import Harness, make_harness, running_app
from tests.voice.webrtc_page import chromium_args, tone

if TYPE_CHECKING:
    from tests.voice.browser import WebPhoneSite

DEADLINE = float(os.environ.get("CALLBRIDGE_TEST_VOICE_DEADLINE", "60"))
T = TypeVar("T")
BINARIES = {
    "/usr/sbin/kamailio": "kamailio",
    "/usr/bin/rtpengine": "rtpengine-daemon",
    "/usr/bin/baresip": "baresip-core",
    "/usr/bin/sipp": "sip-tester",
    "/usr/bin/sox": "sox",
    "/usr/bin/tshark": "tshark",  # recordings: rtpengine's pcap to WAV
}
BARESIP_MODULES = "/usr/lib/baresip/modules"
# what each side sends, and what the caller hears while waiting (tones chosen apart from the hold music's notes)
CALLER_TONE = 700.0
AGENT_TONE = 1400.0
GREETING_TONE = 1000.0

_numbers = itertools.count(1)


def wait_for(check: Callable[[], T], what: str, timeout: float = DEADLINE, interval: float = 0.05) -> T:
    """tests.waiting.wait_for with the voice tests' own deadline."""
    return waiting.wait_for(check, what, timeout, interval)


def _free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_ports(count: int, spacing: int = 1) -> list[int]:
    """`count` ports free for UDP and TCP, each with `spacing - 1` free ports after it (baresip also binds
    SIP/TLS on the next port)."""
    found: list[int] = []
    while len(found) < count:
        base = random.randrange(20000, 29000)
        if all(_free(base + offset) for offset in range(spacing)) and all(abs(base - p) > spacing for p in found):
            found.append(base)
    return found


@dataclass
class VoiceSystem:
    harness: Harness
    sip_port: int
    workdir: Path
    peers: list[Baresip] = field(default_factory=list)
    trunk_port: int = 0  # where the carrier's side of calls placed through the trunk listens (a test peer)

    @property
    def voice(self) -> Any:
        return self.harness.client.app.state.channels.voice  # type: ignore[attr-defined]

    def registered(self, username: str) -> bool:
        try:
            self.voice.rpc.call("ul.lookup", "location", username)
        except Exception:
            return False
        return True

    def tenant(self, *, greeting: Path | None = None, offer_timeout: int = 20) -> tuple[Tenant, str]:
        """A fresh tenant whose number (returned) rings queue sales."""
        tenant_id = f"v{next(_numbers)}"
        self.harness.setup_tenant(tenant_id, offer_timeout=offer_timeout)
        tenant = Tenant(tenant_id, self.harness, self.harness.api_key(tenant_id))
        number = f"+1800555{next(_numbers):04d}"
        body: dict[str, Any] = {"queue_id": "sales"}
        if greeting is not None:
            agent = self.harness.sign_in(tenant.id, "agent2")
            uploaded = self.harness.client.post(
                "/api/v1/me/greetings",
                data={"name": "welcome"},
                files={"audio": ("welcome.wav", greeting.read_bytes(), "audio/wav")},
                headers=agent,
            )
            assert uploaded.status_code == 201, uploaded.text
            body["greeting_id"] = uploaded.json()["id"]
        response = self.harness.client.put(
            f"/api/v1/tenants/{tenant.id}/voice/numbers/{number}", json=body, headers=self.harness.admin
        )
        assert response.status_code == 200, response.text
        return tenant, number

    def desk_phone(self, tenant: Tenant, agent_id: str, password: str = "desk-phone-secret") -> str:
        username = f"{tenant.id}-{agent_id}"
        response = self.harness.client.put(
            f"/api/v1/tenants/{tenant.id}/voice/desk-phones/{agent_id}",
            json={"username": username, "password": password},
            headers=self.harness.admin,
        )
        assert response.status_code == 200, response.text
        return username

    def baresip(
        self, name: str, frequency: float, account: str, sip_port: int | None = None, config: tuple[str, ...] = ()
    ) -> Baresip:
        peer = Baresip(self.workdir / name, frequency, account, sip_port, config)
        self.peers.append(peer)
        peer.start()
        return peer

    def sipp(self, scenario: str, *args: str, local_ip: str = "127.0.0.1") -> subprocess.CompletedProcess[str]:
        directory = self.workdir / f"sipp-{time.monotonic_ns()}"
        directory.mkdir()
        (directory / "scenario.xml").write_text(scenario)
        (port,) = free_ports(1)
        command = ["sipp", f"127.0.0.1:{self.sip_port}", "-sf", "scenario.xml", "-i", local_ip, "-p", str(port)]
        command += ["-m", "1", "-timeout", f"{DEADLINE:.0f}s", "-timeout_error", "-nostdin", *args]
        return subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=DEADLINE + 5)


class Baresip:
    """A SIP phone: sends `frequency` from a WAV, records what it hears (sndfile: dump-*-dec.wav), driven over
    its ctrl_tcp socket (netstring JSON)."""

    def __init__(
        self,
        directory: Path,
        frequency: float,
        account: str,
        sip_port: int | None = None,
        config: tuple[str, ...] = (),
    ) -> None:
        self.sip_port = sip_port
        self.config = config  # more lines of baresip's config (e.g. `sip_cafile` for SIP over TLS)
        self.directory = directory
        self.frequency = frequency
        self.account = account
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Any = None
        self.control: socket.socket | None = None
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        # baresip's sndfile module names its files in a 128-byte buffer: under a deep pytest folder (xdist adds
        # popen-gwN/) "dump-…-dec.wav" lost its extension and nothing was found. It records into a short folder,
        # and its files move to `directory` when it stops.
        self.recordings: Path | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True)
        self.recordings = Path(tempfile.mkdtemp(prefix="baresip-heard-"))
        source = tone(self.directory / "tone.wav", self.frequency, 60)
        sip_port, ctrl_port, rtp_base = free_ports(3, spacing=3)
        sip_port = self.sip_port or sip_port
        (self.directory / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{sip_port}",
                    "net_interface 127.0.0.1",
                    "call_max_calls 2",
                    # no jitter buffer: baresip 1.0 keeps one across a change of SSRC and drops the new source's
                    # packets as late (the caller hears rtpengine's player, then the agent, two sources)
                    "jitter_buffer_delay 0-0",
                    f"audio_source aufile,{source}",
                    "audio_player aubridge,sink",
                    "audio_alert aubridge,sink",
                    f"module_path {BARESIP_MODULES}",
                    "module g711.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
                    f"snd_path {self.recordings}",
                    f"rtp_ports {rtp_base}-{rtp_base + 2}",
                    *self.config,
                    "",
                ]
            )
        )
        (self.directory / "accounts").write_text(self.account + "\n")
        self.log = open(self.directory / "baresip.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["baresip", "-f", str(self.directory)], stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )

        def connect() -> socket.socket | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"baresip exited: {(self.directory / 'baresip.log').read_text()[-600:]}")
            try:
                return socket.create_connection(("127.0.0.1", ctrl_port), timeout=1)
            except OSError:
                return None

        self.control = wait_for(connect, "baresip's control socket")

    def command(self, name: str, params: str = "") -> None:
        assert self.control is not None
        message = json.dumps({"command": name, "params": params, "token": name}).encode()
        self.control.sendall(str(len(message)).encode() + b":" + message + b",")

    def poll_events(self) -> list[dict[str, Any]]:
        assert self.control is not None
        self.control.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while chunk := self.control.recv(65536):
                self._buffer += chunk
        while b":" in self._buffer:
            length, _, rest = self._buffer.partition(b":")
            size = int(length)
            if len(rest) < size + 1:
                break
            self.events.append(json.loads(rest[:size]))
            self._buffer = rest[size + 1 :]
        return self.events

    def saw(self, event_type: str) -> dict[str, Any] | None:
        for event in self.poll_events():
            if event.get("type") == event_type:
                return event
        return None

    def heard(self) -> Path | None:
        folder = self.recordings if self.recordings is not None else self.directory
        found = sorted(folder.glob("dump-*-dec.wav"))
        return found[-1] if found else None

    def stop(self) -> None:
        if self.control is not None:
            self.control.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()
        if self.recordings is not None:
            for recording in self.recordings.iterdir():
                shutil.move(recording, self.directory / recording.name)
            self.recordings.rmdir()
            self.recordings = None


def require_engines() -> None:
    for binary, package in BINARIES.items():
        if not Path(binary).exists() or (binary.endswith("sox") and shutil.which("sox") is None):
            missing_service(package, "as root run scripts/install-voice-engines (Debian's packages)")


def voice_settings(rtp_ports_from: int) -> dict[str, Any]:
    """Settings of a Callbridge with voice on, on free loopback ports (test modules run side by side, each with
    its own Kamailio and rtpengine; give each kind of module its own RTP range)."""
    sip_port, controller_port, ng_port, trunk_port, ws_port = free_ports(5, spacing=3)
    rtp_base = random.randrange(rtp_ports_from, rtp_ports_from + 9000, 200)
    return {
        "voice_enabled": True,
        "voice_sip_port": sip_port,
        "voice_controller_port": controller_port,
        "voice_rtpengine_ng": f"127.0.0.1:{ng_port}",
        "voice_rtp_port_min": rtp_base,
        "voice_rtp_port_max": rtp_base + 199,
        "voice_trunk_networks": "127.0.0.1/32",
        "voice_trunk_address": f"127.0.0.1:{trunk_port}",  # calls out (click to dial, transfers) reach a test peer
        "voice_ws_port": ws_port,  # not the default: test modules run side by side, each with its Kamailio
    }


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


@contextlib.contextmanager
def running_voice_system(tmp: Path, settings: dict[str, Any], trunk_port: int | None = None) -> Iterator[VoiceSystem]:
    """A server with voice on (its Kamailio and rtpengine), and the peers a test starts stopped at the end."""
    harnesses = make_harness(tmp, **settings)
    harness = next(harnesses)
    trunk = trunk_port if trunk_port is not None else _port(settings["voice_trunk_address"])
    system = VoiceSystem(harness, settings["voice_sip_port"], tmp / "peers", trunk_port=trunk)
    system.workdir.mkdir()
    try:
        yield system
    finally:
        for peer in system.peers:
            peer.stop()
        with contextlib.suppress(StopIteration):
            next(harnesses)


@pytest.fixture(scope="module")
def voice_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceSystem]:
    require_engines()
    with running_voice_system(tmp_path_factory.mktemp("voice"), voice_settings(30000)) as system:
        yield system


def require_tls_tools() -> None:
    if not shutil.which("openssl"):
        missing_service("openssl", "apt-get install openssl")
    if not list(Path("/usr/lib").glob("*/kamailio/modules/tls.so")):
        missing_service("Kamailio's tls module", "as root run scripts/install-voice-engines (kamailio-tls-modules)")


def self_signed_certificate(cert: Path, key: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (openssl picks a random serial)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )


# ---------------------------------------------------------------- the browser softphone (tests/voice/browser.py)

WEBPHONE_TENANT = "webphone"
WEBPHONE_NUMBER = "+18005550199"
WEBPHONE_ADMIN = ("root@example.com", "correct horse battery")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebPhoneSite]:
    """A served Callbridge with voice on (the console's softphone needs a real origin): tenant `webphone`, agents
    agent1 and agent2, its number ringing queue sales."""
    with webphone_site(tmp_path_factory) as served:
        yield served


@contextlib.contextmanager
def webphone_site(tmp_path_factory: pytest.TempPathFactory, **extra: Any) -> Iterator[WebPhoneSite]:
    """The `site` fixture's Callbridge, with `extra` settings (a module's own `site` fixture)."""
    import httpx
    from tests.voice.browser import WebPhoneSite

    require_engines()
    if not Path(CHROMIUM).exists():
        missing_service("Chromium", "apt-get install chromium")
    tmp = tmp_path_factory.mktemp("webphone")
    # the console's live WebSocket checks the origin
    settings = voice_settings(40000) | {"public_url": "auto"} | extra
    with (
        running_app(tmp, *WEBPHONE_ADMIN, **settings) as (base, app),
        httpx.Client(base_url=base, timeout=DEADLINE) as client,
    ):
        login = {"email": WEBPHONE_ADMIN[0], "password": WEBPHONE_ADMIN[1]}
        token = client.post("/api/v1/auth/admin-sessions", json=login).json()
        harness = Harness(client, {"Authorization": f"Bearer {token['token']}"})  # type: ignore[arg-type]
        harness.setup_tenant(WEBPHONE_TENANT, agents=2, offer_timeout=60)
        response = client.put(
            f"/api/v1/tenants/{WEBPHONE_TENANT}/voice/numbers/{WEBPHONE_NUMBER}",
            json={"queue_id": "sales"},
            headers=harness.admin,
        )
        assert response.status_code == 200, response.text
        workdir = tmp / "peers"
        workdir.mkdir()
        yield WebPhoneSite(
            base,
            app,
            client,
            harness,
            settings["voice_sip_port"],
            workdir,
            tmp / "voice",
            _port(settings["voice_trunk_address"]),
        )


@pytest.fixture(scope="module")
def browser_args() -> list[str]:
    """Chromium flags a module adds to every browser it launches (the WSS test: its self-signed certificate)."""
    return []


@pytest.fixture(scope="module")
def browsers(site: WebPhoneSite, browser_args: list[str]) -> Iterator[Callable[[float], Any]]:
    """`launch(frequency)`: a headless Chromium whose fake microphone plays that tone (one per tone, kept for the
    module). The capture file is a flag of the whole browser process, so two agents who must each send their own
    tone need two processes; each agent gets a context of their own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched: dict[float, Any] = {}

        def launch(frequency: float) -> Any:
            if frequency in launched:
                return launched[frequency]
            microphone = tone(site.workdir / f"browser-{frequency:.0f}.wav", frequency, 120, rate=48000)
            args = chromium_args(microphone) + browser_args
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
            launched[frequency] = browser
            return browser

        try:
            yield launch
        finally:
            for browser in launched.values():
                with contextlib.suppress(Exception):
                    browser.close()


@pytest.fixture(scope="module")
def chromium(browsers: Callable[[float], Any]) -> Any:
    from tests.voice.browser import BROWSER_TONE

    return browsers(BROWSER_TONE)
