"""What the voice tests and the voice benchmark (bench/voice.py) run in a console page with a softphone, and how
they start Chromium for it: a fake microphone playing a WAV tone (a flag of the whole browser process), the page's
peer connections kept for getStats, what the `<audio>` element plays (WebAudio's AnalyserNode: its strongest
frequency), the inbound RTP counters and jitter, and when the softphone rang and answered (page clock, epoch ms).
No fixtures here, so the benchmark can use it (as bench/screen_pop.py uses tests/e2e).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import CHROMIUM, CHROMIUM_ARGS

__all__ = ["CHROMIUM", "chromium_args", "tone"]

BROWSER_TONE = 1200.0

# In the page: the strongest frequency of what the <audio> element plays (the far end), and the inbound
# RTP stream's counters. Chromium feeds a remote WebRTC stream to WebAudio only while a media element plays it.
LISTEN_JS = """
async () => {
  const audio = document.getElementById("phone-audio");
  const stream = audio && audio.srcObject;
  if (!stream || stream.getAudioTracks().length === 0) return null;
  if (window.__analysed !== stream) {  // a new call (after a cancelled consult the browser is called again)
    window.__analysed = stream;
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

# Inbound audio per peer connection: counters, RFC 3550 jitter as the browser computes it (seconds), and what
# rtpengine reports back about the browser's own stream (RTCP receiver reports: remote-inbound-rtp).
MEDIA_JS = """
async () => {
  const found = [];
  for (const pc of window.__softphonePeers || []) {
    if (pc.connectionState === "closed") continue;
    const report = await pc.getStats();
    const one = { packets: 0, lost: 0, jitter: null, remote_jitter: null, remote_lost: null, rtt: null };
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        one.packets += s.packetsReceived || 0;
        one.lost += s.packetsLost || 0;
        one.jitter = s.jitter ?? one.jitter;
      }
      if (s.type === "remote-inbound-rtp" && s.kind === "audio") {
        one.remote_jitter = s.jitter ?? one.remote_jitter;
        one.remote_lost = s.packetsLost ?? one.remote_lost;
        one.rtt = s.roundTripTime ?? one.rtt;
      }
    });
    found.push(one);
  }
  return found;
}
"""
# When the softphone rang (`data-ringing`: the interaction id) and what its call did (`data-call`), page clock.
TIMELINE_JS = """
(() => {
  window.__phoneTimeline = [];
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.target.id !== "phone-state") continue;
      const value = change.target.getAttribute(change.attributeName);
      window.__phoneTimeline.push({ what: change.attributeName, value, at: Date.now() });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ringing", "data-call"] });
})();
"""


def chromium_args(microphone: Path) -> list[str]:
    """Headless Chromium whose fake microphone plays `microphone` (a WAV)."""
    return [
        *CHROMIUM_ARGS,
        "--allow-loopback-in-peer-connection",  # or headless Chromium gathers no ICE candidates on loopback
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
    ]


def tone(path: Path, frequency: float, seconds: float, rate: int = 8000) -> Path:
    """A 16-bit mono WAV of one sine tone (sox)."""
    subprocess.run(
        ["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(path), "synth", str(seconds), "sine", str(frequency)]
        + ["vol", "0.5"],
        check=True,
        capture_output=True,
    )
    return path
