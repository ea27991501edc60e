"""The console's browser softphone, for real: Chromium (fake microphone playing a tone) registers over SIP over
WebSocket to the Kamailio Callbridge runs, a baresip caller (its own tone, recording what it hears) calls the
trunk number, the console rings, the agent accepts there, and each side hears the other's tone; Hang up in the
console ends the interaction and the caller's call.

What the caller heard is read from its recording (Goertzel, tests/voice/audio.py); what the browser heard is
measured in the page: WebAudio's AnalyserNode on the remote stream (its strongest frequency) and getStats.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import ARTIFACTS, CHROMIUM, missing_service
from tests.e2e.conftest import Harness, running_app
from tests.voice.audio import dominant_tones, first_run
from tests.voice.conftest import BINARIES, CALLER_TONE, DEADLINE, Baresip, free_ports, wait_for
from tests.voice.test_calls import HOLD_MUSIC

from callbridge.auth.credentials import create_session
from callbridge.domain import commands as cmd
from callbridge.web.deps import SESSION_COOKIE

pytestmark = pytest.mark.browser

BROWSER_TONE = 1200.0
TENANT = "webphone"
NUMBER = "+18005550199"
ADMIN = ("root@example.com", "correct horse battery")

# In the page: the strongest frequency of what the <audio> element plays (the far end), and the inbound
# RTP stream's counters. Chromium feeds a remote WebRTC stream to WebAudio only while a media element plays it.
LISTEN_JS = """
async () => {
  const audio = document.getElementById("phone-audio");
  const stream = audio && audio.srcObject;
  if (!stream || stream.getAudioTracks().length === 0) return null;
  if (!window.__analyser) {
    const context = new AudioContext();
    await context.resume();
    const analyser = context.createAnalyser();
    analyser.fftSize = 8192;
    context.createMediaStreamSource(stream).connect(analyser);
    window.__analyser = analyser;
    window.__rate = context.sampleRate;
  }
  const bins = new Float32Array(window.__analyser.frequencyBinCount);
  window.__analyser.getFloatFrequencyData(bins);
  let best = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return { peak_hz: best * window.__rate / window.__analyser.fftSize, peak_db: bins[best] };
}
"""
STATS_JS = """
async () => {
  const found = { packets: 0, lost: 0, codec: "", dtls: "" };
  for (const pc of window.__softphonePeers || []) {
    const report = await pc.getStats();
    const codecs = {};
    report.forEach((s) => { if (s.type === "codec") codecs[s.id] = s.mimeType; });
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        found.packets += s.packetsReceived || 0;
        found.lost += s.packetsLost || 0;
        found.codec = codecs[s.codecId] || found.codec;
      }
      if (s.type === "transport") found.dtls = s.dtlsState || found.dtls;
    });
  }
  return found;
}
"""
# Keeps every RTCPeerConnection the page makes, for STATS_JS (sip.js makes its own).
TRACK_PEERS_JS = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__softphonePeers = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__softphonePeers.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})();
"""


@dataclass
class WebPhoneSite:
    base: str
    app: Any
    client: httpx.Client
    harness: Harness
    sip_port: int
    workdir: Path
    voice_dir: Path
    trunk_port: int

    def engine_log(self) -> str:
        text = (self.voice_dir / "kamailio.log").read_text(errors="replace")
        return "\n".join(line for line in text.splitlines() if "voice:" in line or "ERROR" in line)[-4000:]


def tone48k(path: Path, frequency: float, seconds: float) -> Path:
    subprocess.run(
        ["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(path), "synth", str(seconds), "sine", str(frequency)]
        + ["vol", "0.5"],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebPhoneSite]:
    for binary, package in BINARIES.items():
        if not Path(binary).exists():
            missing_service(package, "as root run scripts/install-voice-engines (Debian's packages)")
    if not Path(CHROMIUM).exists():
        missing_service("Chromium", "apt-get install chromium")
    tmp = tmp_path_factory.mktemp("webphone")
    sip_port, controller_port, ng_port, ws_port, trunk_port = free_ports(5, spacing=2)
    rtp_base = random.randrange(40000, 49000, 200)
    settings = {
        "voice_enabled": True,
        "voice_sip_port": sip_port,
        "voice_controller_port": controller_port,
        "voice_rtpengine_ng": f"127.0.0.1:{ng_port}",
        "voice_rtp_port_min": rtp_base,
        "voice_rtp_port_max": rtp_base + 199,
        "voice_trunk_networks": "127.0.0.1/32",
        "voice_ws_port": ws_port,
        "voice_trunk_address": f"127.0.0.1:{trunk_port}",  # click to dial's customers answer there
        "public_url": "auto",  # the console's live WebSocket checks the page's origin against it
    }
    with running_app(tmp, *ADMIN, **settings) as (base, app), httpx.Client(base_url=base, timeout=DEADLINE) as client:
        token = client.post("/api/v1/auth/admin-sessions", json={"email": ADMIN[0], "password": ADMIN[1]}).json()
        harness = Harness(client, {"Authorization": f"Bearer {token['token']}"})  # type: ignore[arg-type]
        harness.setup_tenant(TENANT, agents=2, offer_timeout=60)  # agent2 dials out
        response = client.put(
            f"/api/v1/tenants/{TENANT}/voice/numbers/{NUMBER}", json={"queue_id": "sales"}, headers=harness.admin
        )
        assert response.status_code == 200, response.text
        workdir = tmp / "peers"
        workdir.mkdir()
        yield WebPhoneSite(base, app, client, harness, sip_port, workdir, tmp / "voice", trunk_port)


@pytest.fixture(scope="module")
def chromium(site: WebPhoneSite) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright
    from tests.conftest import CHROMIUM_ARGS

    microphone = tone48k(site.workdir / "browser-tone.wav", BROWSER_TONE, 60)
    args = [
        *CHROMIUM_ARGS,
        "--allow-loopback-in-peer-connection",
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def interaction(site: WebPhoneSite) -> dict[str, Any] | None:
    response = site.client.get(f"/api/v1/tenants/{TENANT}/snapshot", headers=site.harness.admin)
    found = list(response.json()["interactions"].values())
    return found[0] if found else None


def test_the_console_softphone_rings_answers_hears_and_hangs_up(site: WebPhoneSite, chromium: Any) -> None:
    client, admin = site.client, site.harness.admin
    chosen = client.put(f"/api/v1/tenants/{TENANT}/voice/phones/agent1", json={"rings": "browser"}, headers=admin)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["rings"] == "browser"
    services = site.app.state.services
    loop = site.app.state.channels.voice.controller.stack.loop  # the served event loop
    asyncio.run_coroutine_threadsafe(services.node.execute(TENANT, cmd.SignIn("agent1")), loop).result(DEADLINE)
    token = create_session(services.engine, "agent", "agent1", TENANT, services.clock.now())
    agent = {"Authorization": f"Bearer {token}"}

    credentials = client.get("/api/v1/me/softphone", headers=agent).json()
    assert credentials["available"] is True, credentials
    assert credentials["ws_url"].startswith("ws://127.0.0.1:")
    assert credentials["username"].endswith(credentials["aor"].split(":")[1].split("@")[0])

    context = chromium.new_context()
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": site.base}])
    page = context.new_page()
    said: list[str] = []  # the page's console, printed when a wait fails
    page.on("console", lambda message: said.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: said.append(f"error: {error}"))
    page.add_init_script(TRACK_PEERS_JS)
    page.goto(f"{site.base}/console?tenant={TENANT}")
    phone_state = page.locator("#phone-state")
    try:
        run_call(site, page, phone_state, agent)
    except Exception:
        print("\n".join([f"phone state: {phone_state.text_content()}", *said, site.engine_log()]))
        raise
    finally:
        with contextlib.suppress(Exception):
            context.close()


def run_call(site: WebPhoneSite, page: Any, phone_state: Any, agent: dict[str, str]) -> None:
    client = site.client
    started = time.perf_counter()
    wait_for(lambda: phone_state.text_content() == "Phone ready", "the softphone to register")
    registered = time.perf_counter() - started
    response = client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    assert response.status_code == 200, response.text

    caller = Baresip(site.workdir / "caller", CALLER_TONE, "<sip:+14155550123@127.0.0.1>;regint=0")
    try:
        caller.start()
        caller.command("dial", f"sip:{NUMBER}@127.0.0.1:{site.sip_port}")
        offered = wait_for(
            lambda: (found := interaction(site)) and found["state"] == "offered" and found, "the call to be offered"
        )
        wait_for(lambda: phone_state.get_attribute("data-ringing") == offered["id"], "the softphone to ring")
        page.locator(f'li.offer[data-interaction-id="{offered["id"]}"] button[data-action=accept]').click()
        accepted = time.perf_counter()
        wait_for(lambda: phone_state.get_attribute("data-call") == "Established", "the softphone to answer")
        answered = time.perf_counter() - accepted
        wait_for(lambda: (interaction(site) or {}).get("state") == "connected", "the call to be connected")

        def caller_heard_the_browser() -> bool:
            heard = caller.heard()
            if heard is None or heard.stat().st_size < 4000:
                return False
            return first_run(dominant_tones(heard, {"browser": (BROWSER_TONE,)}), "browser", 5) is not None

        wait_for(caller_heard_the_browser, "the caller to hear the browser's tone")
        heard_after = time.perf_counter() - accepted

        def browser_heard_the_caller() -> dict[str, Any] | None:
            found = page.evaluate(LISTEN_JS)
            return found if found and abs(found["peak_hz"] - CALLER_TONE) < 20 and found["peak_db"] > -70 else None

        heard = wait_for(browser_heard_the_caller, "the browser to hear the caller's tone")
        stats = page.evaluate(STATS_JS)
        assert stats["codec"].lower() == "audio/opus", stats
        assert stats["dtls"] == "connected", stats
        assert stats["packets"] > 0, stats
        print(
            f"\nregistered in {registered:.2f} s; Accept → call established {answered:.2f} s, → caller hears the"
            f" browser {heard_after:.2f} s; browser heard {heard['peak_hz']:.0f} Hz at {heard['peak_db']:.0f} dB;"
            f" inbound RTP {stats}"
        )

        # Mute: the caller hears the browser no more (silence), then again after Unmute
        def caller_labels() -> list[str]:
            heard = caller.heard()
            return dominant_tones(heard, {"browser": (BROWSER_TONE,)}) if heard is not None else []

        page.locator("details.dial-pad summary").click()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "softphone-call.png"), full_page=True)  # to look at, not compared
        mute = page.locator("button[data-action=mute]")
        mute.click()
        assert mute.get_attribute("aria-pressed") == "true"
        muted_at = len(caller_labels())
        wait_for(lambda: "." * 10 in "".join(x or "." for x in caller_labels()[muted_at:]), "a second of silence")
        mute.click()
        assert mute.text_content() == "Mute"
        unmuted_at = len(caller_labels())
        wait_for(lambda: first_run(caller_labels()[unmuted_at:], "browser", 5) is not None, "the browser again")

        # Hold: the caller hears the hold music instead of the browser, then the browser again on Resume
        def caller_hears(since: int) -> list[str]:
            heard = caller.heard()
            tones = {"browser": (BROWSER_TONE,), "music": HOLD_MUSIC}
            return dominant_tones(heard, tones)[since:] if heard is not None else []

        page.locator("button[data-action=hold]").click()
        held_at = len(caller_labels())
        wait_for(lambda: first_run(caller_hears(held_at), "music", 5) is not None, "the caller to hear hold music")
        page.locator("button[data-action=resume]").click()
        resumed_at = len(caller_labels())
        wait_for(lambda: first_run(caller_hears(resumed_at), "browser", 5) is not None, "the browser after Resume")

        # the dial pad sends RFC 4733 digits, which the caller's phone reports
        page.locator('button[data-digit="5"]').click()
        dtmf = wait_for(lambda: caller.saw("CALL_DTMF_START"), "the caller's phone to receive the digit")
        assert dtmf.get("param") == "5", dtmf

        page.locator("button[data-action=hang-up]").click()
        wait_for(lambda: caller.saw("CALL_CLOSED"), "the caller's call to end")
        wait_for(
            lambda: (interaction(site) or {}).get("state") in (None, "wrap_up", "completed"), "the interaction to end"
        )
        wait_for(lambda: not mute.is_visible(), "the call controls to go when the call ends")
    finally:
        caller.stop()


CUSTOMER = "+14155550188"


def test_click_to_dial_rings_the_agents_browser_then_the_customer_and_both_hear(
    site: WebPhoneSite, chromium: Any
) -> None:
    client, admin = site.client, site.harness.admin
    chosen = client.put(f"/api/v1/tenants/{TENANT}/voice/phones/agent2", json={"rings": "browser"}, headers=admin)
    assert chosen.status_code == 200, chosen.text
    services = site.app.state.services
    loop = site.app.state.channels.voice.controller.stack.loop
    asyncio.run_coroutine_threadsafe(services.node.execute(TENANT, cmd.SignIn("agent2")), loop).result(DEADLINE)
    token = create_session(services.engine, "agent", "agent2", TENANT, services.clock.now())
    agent = {"Authorization": f"Bearer {token}"}

    context = chromium.new_context()
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": site.base}])
    page = context.new_page()
    said: list[str] = []
    page.on("console", lambda message: said.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: said.append(f"error: {error}"))
    page.add_init_script(TRACK_PEERS_JS)
    page.goto(f"{site.base}/console?tenant={TENANT}")
    phone_state = page.locator("#phone-state")
    customer = Baresip(
        site.workdir / "customer",
        CALLER_TONE,
        f"<sip:{CUSTOMER}@127.0.0.1:{site.trunk_port}>;regint=0;answermode=auto",
        sip_port=site.trunk_port,
    )
    try:
        wait_for(lambda: phone_state.text_content() == "Phone ready", "the softphone to register")
        customer.start()
        started = time.perf_counter()
        placed = client.post("/api/v1/me/calls", json={"to_address": CUSTOMER}, headers=agent)
        assert placed.status_code == 201, placed.text
        call = placed.json()
        # the agent's own dial: the console answers its browser's INVITE without an Accept click
        wait_for(lambda: phone_state.get_attribute("data-call") == "Established", "the browser to answer")
        answered = wait_for(lambda: customer.saw("CALL_ESTABLISHED"), "the customer to answer")
        assert NUMBER in str(answered.get("peeruri", "")), answered  # the tenant's number as caller id

        def customer_heard_the_browser() -> bool:
            heard = customer.heard()
            if heard is None or heard.stat().st_size < 4000:
                return False
            return first_run(dominant_tones(heard, {"browser": (BROWSER_TONE,)}), "browser", 5) is not None

        wait_for(customer_heard_the_browser, "the customer to hear the browser's tone")
        heard_after = time.perf_counter() - started

        def browser_heard_the_customer() -> dict[str, Any] | None:
            found = page.evaluate(LISTEN_JS)
            return found if found and abs(found["peak_hz"] - CALLER_TONE) < 20 and found["peak_db"] > -70 else None

        heard = wait_for(browser_heard_the_customer, "the browser to hear the customer's tone")
        stats = page.evaluate(STATS_JS)
        assert stats["codec"].lower() == "audio/opus", stats
        assert stats["dtls"] == "connected", stats
        print(
            f"\nclick to dial → customer hears the browser {heard_after:.2f} s; browser heard"
            f" {heard['peak_hz']:.0f} Hz at {heard['peak_db']:.0f} dB; inbound RTP {stats}"
        )
        customer.command("hangup")
        wait_for(lambda: phone_state.get_attribute("data-call") == "Terminated", "the browser's call to end")

        def interaction_ended() -> bool:
            snapshot = site.client.get(f"/api/v1/tenants/{TENANT}/snapshot", headers=admin).json()
            return snapshot["interactions"].get(call["id"], {}).get("state") in (None, "wrap_up", "completed")

        wait_for(interaction_ended, "the interaction to end")
    except Exception:
        print("\n".join([f"phone state: {phone_state.text_content()}", *said, site.engine_log()]))
        raise
    finally:
        customer.stop()
        with contextlib.suppress(Exception):
            context.close()
