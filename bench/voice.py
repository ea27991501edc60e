"""Voice: real SIP calls through Kamailio, rtpengine and the voice controller, on loopback.

Set-up: a real server (`python -m callbridge serve` with voice on, bench/_server.py) that starts Kamailio and
rtpengine itself; one tenant, one phone queue, AGENTS agents signed in and available, each with a desk phone.
The desk phones are one sipp process (registered first by a second sipp, one REGISTER per agent with digest
credentials, all pointing at the first one's port): they auto-answer and send a 1400 Hz tone (sipp
rtp_stream, G.711 PCMU). The callers are a third sipp at the trunk address: each dials the queue's number,
sends a 700 Hz tone and hangs up after HOLD seconds. The first AGENTS callers find a free agent and are
bridged; the next QUEUED wait on the hold music rtpengine plays (nobody is free).

Measured, all at the plateau (every call set up, none ended):
- `bridged_calls` / `queued_calls`: the interactions connected / queued (the supervisors' snapshot);
- `loss_pct`, `jitter_p95_ms`: rtpengine's own per-stream statistics, read over its NG control socket
  (`query` of each call): packets rtpengine received from each caller and each phone over a window, against
  the 50 packets a second each of them sends (the G.711 20 ms ptime); jitter as rtpengine computes it per
  SSRC (RFC 3550 interarrival jitter, `SSRC` section of `query`);
- `setup_p99_ms`: the caller's INVITE leaving sipp → the controller's INVITE reaching the agent's phone
  (sipp's own message traces, one clock), for calls that found a free agent;
- `webrtc_calls`: after the SIP calls have ended, on their own (so neither weighs on the other's numbers), N calls
  (BENCH_WEBRTC_CALLS: 2 with --quick, 10 otherwise; 0: none) from a fourth sipp to WEB_NUMBER, whose queue's
  agents answer in the console's softphone: headless Chromium (fake microphone playing a 1,200 Hz WAV, as in
  tests/voice; the page scripts are tests/voice/webrtc_page.py and LEG_JS below), a context per agent,
  BENCH_WEBRTC_PER_BROWSER (10) contexts per Chromium process. rtpengine bridges each call as in production (ICE,
  DTLS-SRTP, Opus towards the browser, transcoded from the caller's PCMU). Each page answers and measures by itself;
  reported: how many legs reached each stage (`stages`: registered, rang, Accept clicked, SIP established, ICE +
  DTLS connected, first packet, caller's tone heard), the times between stages and per leg, set-up (the caller's
  INVITE leaving sipp → the softphone ringing, the page's clock), over a window the browser's inbound jitter and
  loss (getStats), and the CPU per call of rtpengine and of Chromium (its whole process tree), with the load
  averages before and after.

On a shared machine the absolute numbers move with the neighbours' load, so the run also reports what does
not: the CPU rtpengine and the server spent per call (from /proc, their own PIDs), and the machine's load
average and the share of CPU the rest of the machine used meanwhile.

Everything runs on 127.0.0.1, is bounded in calls and time (sipp -m, -timeout), and is stopped by PID.
Environment BENCH_AGENTS, BENCH_QUEUED, BENCH_RATE and BENCH_HOLD override the sizes.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from bench._server import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    QUEUE_ID,
    _ok,
    _sign_in_all,
    percentile,
    progress,
    provision,
    serve,
)
from callbridge.channels.sip.ng import NgClient

FULL = {"agents": 100, "queued": 100, "rate": 25.0, "hold": 45.0, "webrtc_calls": 10}
QUICK = {"agents": 10, "queued": 10, "rate": 10.0, "hold": 12.0, "webrtc_calls": 2}
NUMBER = "+18005550100"
WEB_NUMBER = "+18005550101"  # rings queue WEB_QUEUE, whose agents' phone is the console's softphone
WEB_QUEUE = "browsers"
WEB_WINDOW_SECONDS = 8.0  # getStats sampled once a second over this while every browser call is up
PASSWORD = "bench-desk-phone-secret"  # noqa: S105 - a throw-away database
CALLER_TONE = 700
AGENT_TONE = 1400
PACKETS_PER_SECOND = 50  # G.711 at 20 ms per packet: what each sipp stream sends
BINARIES = ("/usr/sbin/kamailio", "/usr/bin/rtpengine", "/usr/bin/sipp", "/usr/bin/sox")


def _free_udp_port() -> int:
    while True:
        port = random.randrange(20000, 29000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


# ------------------------------------------------------------------ sipp scenarios
# Kamailio record-routes every call: the caller's ACK and BYE go to the 200 OK's Contact with the recorded
# route set ([routes], kept by rrs="true"). sipp's [next_url] copies the Contact's display name too
# ("Anonymous <sip:…>", as sippy writes it) into the request line, which Kamailio drops as malformed, and the
# controller, never ACKed, hangs up after 32 s: the URI is taken out of the Contact with a regexp instead.

CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callbridge bench caller">
  <send retrans="500">
    <![CDATA[
INVITE sip:{number}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:1415{caller_base}[call_number]@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
To: <sip:{number}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- [pid][call_number] 1 IN IP4 [media_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [rtpstream_audio_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="&lt;(sip:[^&gt;]*)&gt;" search_in="hdr" header="Contact:" assign_to="contact_header,contact"/>
    </action>
  </recv>
  <send>
    <![CDATA[
ACK [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:1415{caller_base}[call_number]@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
To: <sip:{number}@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>
  <pause milliseconds="{hold_ms}"/>
  <send retrans="500">
    <![CDATA[
BYE [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:1415{caller_base}[call_number]@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
To: <sip:{number}@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <Reference variables="contact_header"/>
</scenario>
"""

# Contact without ";transport=UDP": sippy (the controller) refuses the upper-case form when it sends the BYE.
PHONES = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callbridge bench desk phones">
  <recv request="INVITE" rrs="true"/>
  <send>
    <![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]phone[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:phone@[local_ip]:[local_port]>
Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]phone[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:phone@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- [pid][call_number] 1 IN IP4 [media_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [rtpstream_audio_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv

    ]]>
  </send>
  <recv request="ACK"/>
  <nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>
  <recv request="BYE"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
</scenario>
"""

REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callbridge bench registrations">
  <send retrans="500">
    <![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[service]@[remote_ip]:[remote_port]>;tag=reg[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[service]@127.0.0.1:{phones_port}>
Expires: 3600
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[service]@[remote_ip]:[remote_port]>;tag=reg[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:[service]@127.0.0.1:{phones_port}>
[authentication]
Expires: 3600
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


class Sipp:
    """One sipp process, its messages traced to a file (timestamps for the set-up time), stopped by PID."""

    def __init__(self, directory: Path, name: str, args: list[str]) -> None:
        self.directory = directory
        self.name = name
        self.log = (directory / f"{name}.out").open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            ["sipp", *args, "-nd", "-nostdin", "-trace_msg", "-message_file", f"{name}.msg", "-trace_err"]
            + ["-error_file", f"{name}.err"],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def errors(self) -> str:
        path = self.directory / f"{self.name}.err"
        return path.read_text(errors="replace")[-1500:] if path.exists() else ""


def _tone(path: Path, frequency: int, seconds: int) -> Path:
    """A G.711 µ-law WAV, which sipp's rtp_stream sends as PCMU."""
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path), "synth", str(seconds), "sine", str(frequency)]
        + ["vol", "0.5"],
        check=True,
        capture_output=True,
    )
    return path


_TRACE = re.compile(
    r"^-{20,} (\S+)\s+(\d+:\d+:\d+\.\d+)\n(UDP message (?:sent|received)[^\n]*)\n\n(.*?)(?=^-{20,} |\Z)", re.M | re.S
)


def _invites(message_file: Path, direction: str) -> dict[str, float]:
    """First INVITE sent/received per caller number (From user), at sipp's wall clock."""
    found: dict[str, float] = {}
    if not message_file.exists():
        return found
    for date, clock, what, body in _TRACE.findall(message_file.read_text(errors="replace")):
        if direction not in what or not body.startswith("INVITE "):
            continue
        caller = re.search(r"^From:.*?<sip:(\d+)@", body, re.M)
        if caller is None or caller.group(1) in found:
            continue
        found[caller.group(1)] = datetime.fromisoformat(f"{date}T{clock}").timestamp()
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process and its threads, from /proc (clock ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    ticks = os.sysconf("SC_CLK_TCK")
    return (total - idle) / ticks, total / ticks


def _pid_of(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().split()[0])
    return None


@contextlib.contextmanager
def _sipps() -> Iterator[list[Sipp]]:
    started: list[Sipp] = []
    try:
        yield started
    finally:
        for sipp in started:
            sipp.stop()


def run(quick: bool) -> dict[str, Any]:
    for binary in BINARIES:
        if not Path(binary).exists():
            raise SystemExit(f"the voice benchmark needs {binary}: run scripts/install-voice-engines as root")
    sizes = dict(QUICK if quick else FULL)
    for key in sizes:
        if f"BENCH_{key.upper()}" in os.environ:
            sizes[key] = float(os.environ[f"BENCH_{key.upper()}"])
    agents, queued, rate, hold = int(sizes["agents"]), int(sizes["queued"]), sizes["rate"], sizes["hold"]
    calls, browsers = agents + queued, int(sizes["webrtc_calls"])
    keep = os.environ.get("BENCH_KEEP_DIR")  # to read the sipp traces, the capture and the logs afterwards
    if keep:
        Path(keep).mkdir(parents=True)
        return _run(Path(keep), agents, queued, calls, rate, hold, browsers)
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        return _run(Path(tmp), agents, queued, calls, rate, hold, browsers)


def _run(
    directory: Path, agents: int, queued: int, calls: int, rate: float, hold: float, browsers: int
) -> dict[str, Any]:
    phones_port, register_port, callers_port = (_free_udp_port() for _ in range(3))
    sip_port, controller_port, ng_port = (_free_udp_port() for _ in range(3))
    phones_rtp, callers_rtp = _free_udp_port(), _free_udp_port()
    rtp_min = random.randrange(40000, 56000, 2000)
    caller_base = random.randrange(100, 999)
    server_port = _free_udp_port()

    def configure(client: TestClient, admin: dict[str, str], tenant_id: str) -> None:
        _ok(
            client.put(
                f"/api/v1/tenants/{tenant_id}/voice/numbers/{NUMBER}", json={"queue_id": QUEUE_ID}, headers=admin
            )
        )
        for n in range(1, agents + 1):
            body = {"username": f"phone{n}", "password": PASSWORD}
            _ok(client.put(f"/api/v1/tenants/{tenant_id}/voice/desk-phones/agent{n}", json=body, headers=admin))
        web_tokens.update(_browser_agents(client, admin, tenant_id, browsers))

    web_tokens: dict[str, str] = {}
    provisioned = provision(
        directory, tenants=1, agents_per_tenant=agents, offer_timeout_seconds=60, configure=configure
    )
    sipp_dir = directory / "sipp"
    sipp_dir.mkdir()
    caller_audio = _tone(sipp_dir / "caller.wav", CALLER_TONE, 10)
    agent_audio = _tone(sipp_dir / "agent.wav", AGENT_TONE, 10)
    (sipp_dir / "caller.xml").write_text(
        CALLER.format(number=NUMBER, caller_base=caller_base, audio=caller_audio.name, hold_ms=int(hold * 1000))
    )
    (sipp_dir / "phones.xml").write_text(PHONES.format(audio=agent_audio.name))
    (sipp_dir / "register.xml").write_text(REGISTER.format(phones_port=phones_port))
    voice = {
        "voice_enabled": "true",
        "voice_sip_port": str(sip_port),
        "voice_controller_port": str(controller_port),
        "voice_rtpengine_ng": f"127.0.0.1:{ng_port}",
        "voice_rtp_port_min": str(rtp_min),
        "voice_rtp_port_max": str(rtp_min + 1999),
        "voice_trunk_networks": "127.0.0.1/32",
        "voice_ws_port": str(_free_udp_port()),
        "public_url": f"http://127.0.0.1:{server_port}",  # Kamailio's WebSocket takes the console's origin only
        # INFO: the controller says why a phone's leg failed (in server.log, kept with BENCH_KEEP_DIR)
        "log_level": os.environ.get("BENCH_VOICE_LOG_LEVEL", "WARNING"),
    }
    time_box = hold + calls / rate + 60
    load_before = os.getloadavg()
    with serve(directory, provisioned.database_url, server_port, **voice) as (base_url, server_pid), _sipps() as sipps:
        rtpengine_pid = _pid_of(directory / "voice" / "rtpengine.pid")
        admin = _admin_headers(base_url)
        target = f"127.0.0.1:{sip_port}"
        common = ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-timeout", f"{time_box:.0f}s", "-timeout_error"]
        phones = Sipp(
            sipp_dir, "phones", [target, "-sf", "phones.xml", "-p", str(phones_port), "-mp", str(phones_rtp), *common]
        )
        sipps.append(phones)
        # one short sipp per phone: sipp takes digest credentials from its command line only (-au/-ap)
        for n in range(1, agents + 1):
            register = Sipp(
                sipp_dir,
                "register",
                [target, "-sf", "register.xml", "-p", str(register_port), "-m", "1"]
                + ["-au", f"phone{n}", "-ap", PASSWORD, "-s", f"phone{n}", *common],
            )
            try:
                if register.wait(timeout=20) != 0:
                    raise RuntimeError(f"desk phone phone{n} did not register: {register.errors()}")
            finally:
                register.stop()
        progress(f"{agents} desk phones registered (sipp on port {phones_port}); calling {NUMBER}")
        callers = Sipp(
            sipp_dir,
            "callers",
            [target, "-sf", "caller.xml", "-p", str(callers_port), "-mp", str(callers_rtp), "-m", str(calls)]
            + ["-l", str(calls), "-r", f"{rate:g}", *common],
        )
        sipps.append(callers)
        ng = NgClient("127.0.0.1", ng_port)
        plateau = _wait_for_plateau(
            base_url, admin, calls, agents, deadline=time.monotonic() + calls / rate + 30, callers=callers
        )
        progress(f"plateau: {plateau['connected']} bridged, {plateau['queued']} on hold music; sampling media")
        cpu_before = {"rtpengine": _cpu_seconds(rtpengine_pid or 0), "server": _cpu_seconds(server_pid)}
        machine_before = _machine_busy()
        window_start = time.monotonic()
        seconds = min(10.0, max(3.0, hold - calls / rate - 5))
        capture = _capture(directory / "rtp.pcapng", rtp_min, rtp_min + 1999, seconds)
        try:
            media = _media_window(ng, seconds=seconds)
        finally:
            capture.wait(timeout=seconds + 20)
        window = time.monotonic() - window_start
        machine_after = _machine_busy()
        cpu = {
            name: _cpu_seconds(pid) - cpu_before[name]
            for name, pid in (("rtpengine", rtpengine_pid or 0), ("server", server_pid))
        }
        exit_code = callers.wait(timeout=time_box + 10)
        progress(f"callers done (sipp exit {exit_code})")
        setup = _setup_times(sipp_dir)
        ended = _wait_until_ended(base_url, admin)
        # after the SIP calls, on their own: a browser's Chromium would weigh on the SIP calls' jitter, and they
        # on its
        webrtc = _webrtc_calls(
            directory, base_url, target, web_tokens, caller_base, sipps, (rtpengine_pid or 0, server_pid)
        )
    progress("analysing the RTP capture (tshark)")
    wire = _rtp_streams(directory / "rtp.pcapng", rtp_min, rtp_min + 1999)
    machine_busy = (machine_after[0] - machine_before[0]) / max(1e-9, machine_after[1] - machine_before[1])
    ours = (cpu["rtpengine"] + cpu["server"]) / window / (os.cpu_count() or 1)
    return {
        "bridged_calls": plateau["connected"],
        "queued_calls": plateau["queued"],
        "loss_pct": wire["loss_pct"],
        "jitter_p95_ms": wire["jitter_p95_ms"],
        "setup_p99_ms": round(percentile(setup, 99), 1) if setup else None,
        "setup_p50_ms": round(percentile(setup, 50), 1) if setup else None,
        "setup_samples": len(setup),
        "webrtc_calls": webrtc,
        "rtp_capture": wire,
        "rtpengine_counters": media,
        "window_s": round(window, 1),
        "rtpengine_cpu_pct_of_core": round(100 * cpu["rtpengine"] / window, 1),
        "server_cpu_pct_of_core": round(100 * cpu["server"] / window, 1),
        "rtpengine_cpu_ms_per_call_second": round(1000 * cpu["rtpengine"] / window / max(1, media["calls"]), 3),
        "machine_cpu_busy_pct": round(100 * machine_busy, 1),
        "others_cpu_busy_pct": round(max(0.0, 100 * (machine_busy - ours)), 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "caller_sipp_exit": exit_code,
        "caller_calls": _sipp_outcome(sipp_dir / "callers.out"),
        "after_callers_hung_up": ended,
        "sizes": {"agents": agents, "queued": queued, "rate": rate, "hold_s": hold},
    }


def _admin_headers(base_url: str) -> dict[str, str]:
    response = httpx.post(
        f"{base_url}/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=10
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _snapshot_counts(base_url: str, admin: dict[str, str]) -> dict[str, int]:
    response = httpx.get(f"{base_url}/api/v1/tenants/tenant1/snapshot", headers=admin, timeout=10)
    response.raise_for_status()
    counts: dict[str, int] = {}
    for interaction in response.json()["interactions"].values():
        counts[interaction["state"]] = counts.get(interaction["state"], 0) + 1
    return counts


def _wait_for_plateau(
    base_url: str, admin: dict[str, str], calls: int, agents: int, deadline: float, callers: Sipp
) -> dict[str, int]:
    best = {"connected": 0, "queued": 0}
    while time.monotonic() < deadline:
        if callers.process.poll() is not None:
            raise RuntimeError(f"the callers' sipp exited ({callers.process.returncode}): {callers.errors()}")
        counts = _snapshot_counts(base_url, admin)
        now = {"connected": counts.get("connected", 0), "queued": counts.get("queued", 0) + counts.get("offered", 0)}
        if sum(now.values()) >= sum(best.values()):
            best = now
        progress(f"  {now['connected']} bridged, {now['queued']} waiting of {calls}")
        if now["connected"] >= agents and sum(now.values()) >= calls:
            return now
        time.sleep(1.0)
    return best


def _capture(path: Path, port_min: int, port_max: int, seconds: float) -> subprocess.Popen[bytes]:
    """dumpcap on loopback, RTP headers only (64 bytes a packet), for `seconds`: every packet into and out of
    rtpengine's ports."""
    return subprocess.Popen(  # noqa: S603 - our own arguments
        ["dumpcap", "-i", "lo", "-s", "64", "-B", "256", "-f", f"udp portrange {port_min}-{port_max}"]
        + ["-a", f"duration:{seconds:.0f}", "-w", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=path.with_suffix(".log").open("w"),
    )


_STREAM = re.compile(
    r"^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.+?)\s+(\d+)\s+(-?\d+)\s+\(.*?\)"
    r"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)",
    re.M,
)


def _rtp_streams(path: Path, port_min: int, port_max: int) -> dict[str, Any]:
    """tshark's RTP stream analysis of the capture: packets lost (sequence gaps) on every stream, and the
    RFC 3550 interarrival jitter of the streams rtpengine sends (what the phones and callers receive): for
    each stream the highest value its running estimate reached, then the 95th percentile over streams."""
    if not path.exists():
        return {"error": "no capture (dumpcap failed)", "loss_pct": None, "jitter_p95_ms": None}
    out = subprocess.run(
        ["tshark", "-r", str(path), "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z", "rtp,streams"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    ).stdout
    rows = []
    for match in _STREAM.finditer(out):
        count = int(match.group(7))
        if count >= 20:  # shorter: a stream that started or ended at the edge of the window
            rows.append(
                (int(match.group(2)), match.group(5).lower(), count, int(match.group(8)), float(match.group(14)))
            )
    # a stream rtpengine sends under an SSRC that also comes in is forwarded (caller <-> agent); one under an
    # SSRC of its own is played by rtpengine (greeting, hold music)
    incoming = {ssrc for src_port, ssrc, *_ in rows if not port_min <= src_port <= port_max}
    sent = [jitter for src_port, _, _, _, jitter in rows if not port_min <= src_port <= port_max]
    forwarded = [
        jitter for src_port, ssrc, _, _, jitter in rows if port_min <= src_port <= port_max and ssrc in incoming
    ]
    played = [
        jitter for src_port, ssrc, _, _, jitter in rows if port_min <= src_port <= port_max and ssrc not in incoming
    ]
    # what rtpengine itself adds: a forwarded stream's jitter less that of the same SSRC coming in from its sender
    sender_jitter = {ssrc: jitter for src_port, ssrc, _, _, jitter in rows if not port_min <= src_port <= port_max}
    added = [
        jitter - sender_jitter[ssrc]
        for src_port, ssrc, _, _, jitter in rows
        if port_min <= src_port <= port_max and ssrc in sender_jitter
    ]
    packets = sum(row[2] for row in rows)
    lost = sum(max(0, row[3]) for row in rows)
    heard = forwarded + played
    return {
        "streams": len(rows),
        "packets": packets,
        "lost": lost,
        "loss_pct": round(100 * lost / (packets + lost), 3) if packets else None,
        "jitter_p95_ms": round(percentile(heard, 95), 2) if heard else None,
        "forwarded_streams": len(forwarded),
        "forwarded_jitter_p95_ms": round(percentile(forwarded, 95), 2) if forwarded else None,
        "played_streams": len(played),
        "played_jitter_p95_ms": round(percentile(played, 95), 2) if played else None,
        "jitter_max_ms": round(max(heard), 2) if heard else None,
        # the senders' own jitter (sipp on the same loaded cores), part of what rtpengine forwards
        "senders_jitter_p95_ms": round(percentile(sent, 95), 2) if sent else None,
        # per forwarded stream, its jitter less its sender's: near 0 when the senders' timing is what is measured
        "forwarded_less_sender_p95_ms": round(percentile(added, 95), 2) if added else None,
        # packets the capture itself dropped (its buffer overflowed): those count as lost above
        "capture": _capture_drops(path.with_suffix(".log")),
    }


def _sipp_outcome(screen: Path) -> dict[str, int]:
    """Successful / failed calls from sipp's last statistics screen (its cumulative column)."""
    text = screen.read_text(errors="replace") if screen.exists() else ""
    outcome = {}
    for name in ("Successful call", "Failed call"):
        found = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", text)
        outcome[name.split()[0].lower()] = int(found[-1]) if found else -1
    return outcome


def _capture_drops(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    found = re.search(r"received/dropped on interface.*?(\d+/\d+)", text)
    return f"received/dropped {found.group(1)}" if found else text.strip()[-200:]


def _wait_until_ended(base_url: str, admin: dict[str, str], timeout: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts = _snapshot_counts(base_url, admin)
    while time.monotonic() < deadline and (counts.get("connected") or counts.get("queued") or counts.get("offered")):
        time.sleep(0.5)
        counts = _snapshot_counts(base_url, admin)
    return counts


def _media_window(ng: NgClient, seconds: float) -> dict[str, Any]:
    """rtpengine's own counters: packets it received on each stream over `seconds`, against the 50 a second
    each sender sends. Runs the NG client on its own short-lived loop."""
    import asyncio

    async def sample() -> dict[str, Any]:
        await ng.start()
        try:
            listing = await ng.command("list", {"limit": 10_000})
            call_ids = [str(c) for c in listing.get("calls", [])]
            first = {cid: await _query(ng, cid) for cid in call_ids}
            started = time.monotonic()
            await asyncio.sleep(seconds)
            second = {cid: await _query(ng, cid) for cid in call_ids}
            elapsed = time.monotonic() - started
        finally:
            ng.close()
        expected = received = streams = 0
        for cid in call_ids:
            before, after = _streams(first[cid]), _streams(second[cid])
            for key, packets in after.items():
                if key not in before or packets == 0:
                    continue
                streams += 1
                received += packets - before[key]
                expected += round(PACKETS_PER_SECOND * elapsed)
        loss = 100 * (expected - received) / expected if expected else None
        return {
            "calls": len(call_ids),
            "streams": streams,
            "expected": expected,
            "received": received,
            # approximate (the sender's pace against this process's clock), not a loss figure
            "received_vs_50_per_s_pct": round(100 - loss, 2) if loss is not None else None,
        }

    return asyncio.run(sample())


async def _query(ng: NgClient, call_id: str) -> dict[str, Any]:
    with contextlib.suppress(Exception):
        return await ng.command("query", {"call-id": call_id})
    return {}


def _streams(answer: dict[str, Any]) -> dict[str, int]:
    """RTP packets rtpengine received on each stream of a call that has a sender (by tag and port)."""
    found: dict[str, int] = {}
    for tag, monologue in (answer.get("tags") or {}).items():
        for media in monologue.get("medias") or []:
            for stream in media.get("streams") or []:
                if stream.get("endpoint", {}).get("port") in (None, 0, 9):
                    continue  # the placeholder answerer: sends nothing
                if "RTCP" in (stream.get("flags") or []):
                    continue
                found[f"{tag}:{stream.get('local port')}"] = int((stream.get("stats") or {}).get("packets", 0))
    return found


def _setup_times(sipp_dir: Path) -> list[float]:
    sent = _invites(sipp_dir / "callers.msg", "sent")
    rang = _invites(sipp_dir / "phones.msg", "received")
    return [1000 * (rang[caller] - at) for caller, at in sent.items() if caller in rang]


# ------------------------------------------------------------------ browser softphones (WebRTC legs)


def _browser_agents(client: TestClient, admin: dict[str, str], tenant_id: str, count: int) -> dict[str, str]:
    """`count` agents whose phone is the console's softphone (no desk phone: the browser rings), in a phone queue of
    their own that WEB_NUMBER rings, signed in and available; returns their session tokens."""
    if count <= 0:
        return {}
    queue = {"id": WEB_QUEUE, "name": "Browsers", "channel": "phone", "offer_timeout_seconds": 60}
    _ok(client.post(f"/api/v1/tenants/{tenant_id}/queues", json=queue, headers=admin))
    agent_ids = [f"web{n}" for n in range(1, count + 1)]
    for agent_id in agent_ids:
        body = {"id": agent_id, "email": f"{agent_id}@{tenant_id}.example", "display_name": agent_id.title()}
        _ok(client.post(f"/api/v1/tenants/{tenant_id}/agents", json=body | {"queue_ids": [WEB_QUEUE]}, headers=admin))
    number = {"queue_id": WEB_QUEUE}
    _ok(client.put(f"/api/v1/tenants/{tenant_id}/voice/numbers/{WEB_NUMBER}", json=number, headers=admin))
    tokens = client.portal.call(_sign_in_all, client.app.state.services, tenant_id, agent_ids)  # type: ignore[union-attr,attr-defined]
    return dict(zip(agent_ids, tokens, strict=True))


# In each console page, what an agent does and what the benchmark measures, so that nothing waits on a round trip
# from this process per page (with 30 pages on a busy machine those took seconds per round, and the callers hung
# up before the last pages were looked at): it clicks Accept as soon as the offer it rings for is shown, listens
# for the caller's tone once the call is up (WebAudio, then closes its AudioContext), and reads getStats once a
# second; each step's time (page clock, epoch ms) goes into window.__leg, which this process reads a few times.
LEG_JS = """
(() => {
  const leg = { ready: null, rang: null, id: null, clicked: null, established: null, ice: null, connected: null,
                first_packet: null, heard: null, peak: null, samples: [], errors: [] };
  window.__leg = leg;
  let busy = false, listening = null, lastSample = 0;
  const peer = () => (window.__softphonePeers || []).filter((pc) => pc.connectionState !== "closed").pop();
  async function tick() {
    const now = Date.now();
    const state = document.getElementById("phone-state");
    if (!state) return;
    if (!leg.ready && (state.textContent || "").trim() === "Phone ready") leg.ready = now;
    const ringing = state.getAttribute("data-ringing");
    if (ringing && !leg.id) { leg.id = ringing; leg.rang = now; }
    if (leg.id && !leg.clicked) {
      const accept = document.querySelector(`li.offer[data-interaction-id="${leg.id}"] button[data-action=accept]`);
      if (accept && !accept.disabled) { leg.clicked = Date.now(); accept.click(); }
    }
    if (!leg.established && state.getAttribute("data-call") === "Established") leg.established = now;
    const pc = peer();
    if (pc) {
      if (!leg.ice && ["connected", "completed"].includes(pc.iceConnectionState)) leg.ice = now;
      if (!leg.connected && pc.connectionState === "connected") leg.connected = now;
    }
    const audio = document.getElementById("phone-audio");
    const stream = audio && audio.srcObject;
    if (!leg.heard && stream && stream.getAudioTracks().length) {
      if (!listening || listening.stream !== stream) {
        const context = new AudioContext();
        await context.resume();
        const analyser = context.createAnalyser();
        analyser.fftSize = 8192;
        context.createMediaStreamSource(stream).connect(analyser);
        listening = { stream, context, analyser };
      }
      const bins = new Float32Array(listening.analyser.frequencyBinCount);
      listening.analyser.getFloatFrequencyData(bins);
      let best = 0;
      for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
      const hz = (best * listening.context.sampleRate) / listening.analyser.fftSize;
      leg.peak = { hz, db: bins[best] };
      if (Math.abs(hz - %(caller_hz)d) < 20 && bins[best] > -70) {
        leg.heard = now;
        void listening.context.close();
      }
    }
    if (pc && leg.established && now - lastSample >= 1000 && leg.samples.length < 300) {
      lastSample = now;
      const one = { at: now, packets: 0, lost: 0, jitter: null };
      (await pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "audio") {
          one.packets += s.packetsReceived || 0;
          one.lost += s.packetsLost || 0;
          one.jitter = s.jitter ?? one.jitter;
        }
      });
      if (!leg.first_packet && one.packets > 0) leg.first_packet = now;
      leg.samples.push(one);
    }
  }
  setInterval(() => {
    if (busy) return;
    busy = true;
    tick()
      .catch((error) => { if (leg.errors.length < 5) leg.errors.push(String(error)); })
      .finally(() => { busy = false; });
  }, 100);
})();
"""
# Unless BENCH_WEBRTC_AUDIO_PROCESSING=1: the pages' microphones without the browser's echo cancellation, noise
# suppression and gain control (as a page may ask for): work each agent's own computer does for its microphone,
# which the benchmark's one machine would otherwise do N times over (Chromium's CPU per call fell from 71 to 55-64
# ms per call-second with 20 calls). What reaches rtpengine is the same Opus stream.
NO_AUDIO_PROCESSING_JS = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) return;
  const original = devices.getUserMedia.bind(devices);
  const plain = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
  devices.getUserMedia = (constraints) =>
    original(constraints && constraints.audio ? { ...constraints, audio: plain } : constraints);
})();
"""
# the stages of a browser leg, in order, as window.__leg names them (with `established`: the SIP dialog is up)
STAGES = ("ready", "rang", "clicked", "established", "connected", "first_packet", "heard")


def _lowered_chromium(directory: Path, chromium: str, nice: int) -> Path:
    """Chromium started through a script that takes away its right to raise its own priority, and lowers it.

    Run as root, Chromium gives its audio threads real-time scheduling (SCHED_RR) and its browser process nice -8.
    With 30 consoles on the benchmark's machine that starved rtpengine (2.5 ms of CPU per call-second over the
    window instead of 12 to 20, its control socket unanswered, 11 browsers never got a packet): a benchmark artefact,
    since agents' browsers run on their own computers. Without CAP_SYS_NICE (setpriv) and at `nice`, the browsers
    take what the engines leave."""
    setpriv = Path("/usr/bin/setpriv")
    if not setpriv.exists():
        return Path(chromium)
    script = directory / "chromium.sh"
    script.write_text(f'#!/bin/sh\nexec {setpriv} --bounding-set -sys_nice nice -n {nice} {chromium} "$@"\n')
    script.chmod(0o755)
    return script


def _descendants_cpu(root: int, prefix: str) -> tuple[float, int]:
    """CPU seconds of the processes under `root` whose name starts with `prefix` (the Chromiums this process
    started through Playwright's driver), and how many there are."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        names[int(entry.name)] = stat[stat.index("(") + 1 : stat.rindex(")")]
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    total, count, todo = 0.0, 0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if names.get(pid, "").startswith(prefix):
            seconds = _cpu_seconds(pid)
            if seconds == seconds:  # not NaN: it may have exited meanwhile
                total += seconds
                count += 1
    return total, count


def _webrtc_calls(
    directory: Path,
    base_url: str,
    target: str,
    tokens: dict[str, str],
    caller_base: int,
    sipps: list[Sipp],
    pids: tuple[int, int],
) -> dict[str, Any] | None:
    """N calls from sipp callers (PCMU, 700 Hz) to N agents' console softphones in headless Chromium (its fake
    microphone plays 1,200 Hz; a context per agent, BENCH_WEBRTC_PER_BROWSER contexts per Chromium process),
    bridged through rtpengine (Opus, DTLS-SRTP towards the browser, transcoded).

    The agents' consoles load first; an agent is made available only once their console shows "Phone ready" (as an
    agent would: signed in long before, with no console, the server's heartbeat sweep puts them on break). Each page
    then answers and measures by itself (LEG_JS). Reported: how many legs reached each stage (registered, rang,
    Accept clicked, SIP established, ICE + DTLS connected, first packet, caller heard), the times between stages,
    per-leg timelines, the browser's inbound jitter and loss over a window with every call up, and the CPU of
    rtpengine and of Chromium per call."""
    if not tokens:
        return None
    try:
        from playwright.sync_api import sync_playwright
        from tests.voice.webrtc_page import BROWSER_TONE, CHROMIUM, TIMELINE_JS, TRACK_PEERS_JS, chromium_args, tone

        from callbridge.channels.sip.controller import interaction_id_for
        from callbridge.web.deps import SESSION_COOKIE
    except ImportError as error:
        return {"skipped": f"cannot drive a browser here: {error}"}
    if not Path(CHROMIUM).exists():
        return {"skipped": f"no Chromium at {CHROMIUM} (apt-get install chromium)"}
    count = len(tokens)
    per_browser = max(1, int(os.environ.get("BENCH_WEBRTC_PER_BROWSER", "10")))
    audio_processing = os.environ.get("BENCH_WEBRTC_AUDIO_PROCESSING", "0") != "0"
    web_dir = directory / "webrtc"
    web_dir.mkdir()
    microphone = tone(web_dir / "browser.wav", BROWSER_TONE, 300, rate=48000)
    caller_audio = _tone(web_dir / "caller.wav", CALLER_TONE, 10)
    stages_within = 20.0 + count  # ringing, answering and hearing the tone, at most (a loaded machine is slow)
    hold = stages_within + WEB_WINDOW_SECONDS + 15  # then the window, and a margin
    web_base = 100 + (caller_base + 1) % 900  # From users apart from the SIP callers'
    (web_dir / "webcaller.xml").write_text(
        CALLER.format(number=WEB_NUMBER, caller_base=web_base, audio=caller_audio.name, hold_ms=int(hold * 1000))
    )
    browsers_needed = -(-count // per_browser)
    executable = _lowered_chromium(web_dir, CHROMIUM, int(os.environ.get("BENCH_WEBRTC_NICE", "10")))
    progress(f"WebRTC: {count} consoles with a softphone ({browsers_needed} Chromium), then {count} calls")
    load_before = os.getloadavg()
    leg_js = LEG_JS % {"caller_hz": CALLER_TONE}
    read_legs = "window.__leg ? {...window.__leg, samples: undefined} : null"
    stages: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browsers = [
            playwright.chromium.launch(executable_path=str(executable), args=chromium_args(microphone), headless=True)
            for _ in range(browsers_needed)
        ]
        try:
            pages: dict[str, Any] = {}
            started = time.monotonic()
            for n, (agent_id, token) in enumerate(tokens.items()):
                context = browsers[n // per_browser].new_context()
                context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base_url}])
                page = context.new_page()
                page.add_init_script(TRACK_PEERS_JS)
                page.add_init_script(TIMELINE_JS)
                page.add_init_script(leg_js)
                if not audio_processing:
                    page.add_init_script(NO_AUDIO_PROCESSING_JS)
                page.goto(f"{base_url}/console?tenant=tenant1", wait_until="commit")
                pages[agent_id] = page

            def legs() -> dict[str, dict[str, Any]]:
                found = {}
                for agent_id, page in pages.items():
                    try:
                        found[agent_id] = page.evaluate(read_legs) or {}
                    except Exception as error:  # noqa: BLE001 - a page that crashed or hangs counts as failed
                        found[agent_id] = {"errors": [str(error)[:200]]}
                return found

            def counted(now: dict[str, dict[str, Any]]) -> dict[str, int]:
                return {stage: sum(1 for leg in now.values() if leg.get(stage)) for stage in STAGES}

            deadline = time.monotonic() + 30 + 3 * count
            now = legs()
            while counted(now)["ready"] < count and time.monotonic() < deadline:
                time.sleep(1.0)
                now = legs()
            ready = [agent_id for agent_id, leg in now.items() if leg.get("ready")]
            stages["consoles_ready_s"] = round(time.monotonic() - started, 1)
            progress(f"WebRTC: {len(ready)} of {count} softphones registered in {stages['consoles_ready_s']} s")
            # Chromium at rest with every console open (their pings, timers and SIP keep-alives)
            own = os.getpid()
            idle_before, idle_at = _descendants_cpu(own, "chrom"), time.monotonic()
            time.sleep(3.0)
            idle_after = _descendants_cpu(own, "chrom")
            idle_cpu = (idle_after[0] - idle_before[0]) / (time.monotonic() - idle_at)
            for agent_id in ready:  # the agent, their phone ready, goes available
                status = httpx.put(
                    f"{base_url}/api/v1/me/status",
                    json={"status": "available"},
                    headers={"Authorization": f"Bearer {tokens[agent_id]}"},
                    timeout=30,
                )
                status.raise_for_status()
            common = ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-timeout", f"{hold + 90:.0f}s", "-timeout_error"]
            callers = Sipp(
                web_dir,
                "webcallers",
                [target, "-sf", "webcaller.xml", "-p", str(_free_udp_port()), "-mp", str(_free_udp_port())]
                + ["-m", str(count), "-l", str(count), "-r", str(count), *common],
            )
            sipps.append(callers)
            calls_at = time.monotonic()
            deadline = calls_at + stages_within
            while time.monotonic() < deadline:
                time.sleep(1.0)
                now = legs()
                if counted(now)["heard"] == count:
                    break
                progress(f"  {counted(now)}")
            stages["calls_to_last_stage_s"] = round(time.monotonic() - calls_at, 1)
            progress(f"WebRTC: {counted(now)}; a {WEB_WINDOW_SECONDS:.0f} s window")
            rtpengine_pid, server_pid = pids
            cpu_before, chromium_before = _cpu_seconds(rtpengine_pid), _descendants_cpu(own, "chrom")
            server_before, machine_before = _cpu_seconds(server_pid), _machine_busy()
            window_start, window_from = time.monotonic(), time.time()
            time.sleep(WEB_WINDOW_SECONDS)
            window = time.monotonic() - window_start
            window_to = time.time()
            rtpengine_cpu = _cpu_seconds(rtpengine_pid) - cpu_before
            server_cpu = _cpu_seconds(server_pid) - server_before
            machine_after = _machine_busy()
            chromium_after = _descendants_cpu(own, "chrom")
            final, timelines = {}, {}
            for agent_id, page in pages.items():
                try:
                    final[agent_id] = page.evaluate("window.__leg") or {}
                    timelines[agent_id] = page.evaluate("window.__phoneTimeline")
                except Exception as error:  # noqa: BLE001 - a page that crashed counts as failed
                    final[agent_id] = {"errors": [str(error)[:200]]}
            interactions = _web_interactions(base_url)
            exit_code = callers.wait(timeout=hold + 120)
        finally:
            for browser in browsers:
                browser.close()
    return _webrtc_report(
        final,
        timelines,
        _invite_interactions(web_dir / "webcallers.msg", interaction_id_for),
        (1000 * window_from, 1000 * window_to),
        {
            "calls": count,
            "chromium_processes": browsers_needed,
            "contexts_per_chromium": per_browser,
            "browser_audio_processing": audio_processing,
            "chromium_started_as": executable.read_text().splitlines()[-1]
            if executable.suffix == ".sh"
            else str(executable),
            **stages,
            "window_s": round(window, 1),
            "rtpengine_cpu_ms_per_call_second": round(1000 * rtpengine_cpu / window / max(1, count), 2),
            "server_cpu_pct_of_core_in_calls": round(100 * server_cpu / window, 1),
            # the whole machine over the window (100: both cores busy), the other users' processes included
            "machine_cpu_busy_pct": round(
                100 * (machine_after[0] - machine_before[0]) / max(1e-9, machine_after[1] - machine_before[1]), 1
            ),
            # Chromium's whole process tree (browser, renderers, GPU, network and audio services) per console
            "chromium_cpu_pct_of_core_idle": round(100 * idle_cpu, 1),
            "chromium_cpu_pct_of_core_in_calls": round(100 * (chromium_after[0] - chromium_before[0]) / window, 1),
            "chromium_cpu_ms_per_call_second": round(
                1000 * (chromium_after[0] - chromium_before[0]) / window / max(1, count), 2
            ),
            "chromium_process_count": chromium_after[1],
            "caller_sipp_exit": exit_code,
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        },
        interactions,
    )


def _webrtc_report(
    legs: dict[str, dict[str, Any]],
    timelines: dict[str, Any],
    sent: dict[str, float],
    window: tuple[float, float],
    report: dict[str, Any],
    interactions: dict[str, Any],
) -> dict[str, Any]:
    """Per-stage counts, the times between stages, the browser's inbound jitter and loss over the window."""
    setup: list[float] = []
    gaps: dict[str, list[float]] = {}
    jitter: list[float] = []
    received = lost = 0
    per_leg: dict[str, Any] = {}
    for agent_id, leg in legs.items():
        events = timelines.get(agent_id) or []
        interaction_id = leg.get("id")
        # the MutationObserver's times are exact; the page's 100 ms loop is the fallback
        rang = next((e["at"] for e in events if e["what"] == "data-ringing" and e["value"] == interaction_id), None)
        up = next((e["at"] for e in events if e["what"] == "data-call" and e["value"] == "Established"), None)
        leg["rang"], leg["established"] = rang or leg.get("rang"), up or leg.get("established")
        if leg.get("rang") and interaction_id in sent:
            setup.append(leg["rang"] - 1000 * sent[interaction_id])
        previous = None
        for stage in STAGES[1:]:
            if leg.get(stage) and previous and leg.get(previous):
                gaps.setdefault(f"{previous}_to_{stage}", []).append(leg[stage] - leg[previous])
            previous = stage if leg.get(stage) else previous
        inside = [s for s in leg.get("samples") or [] if window[0] - 1000 <= s["at"] <= window[1] + 1000]
        if len(inside) >= 2:
            received += inside[-1]["packets"] - inside[0]["packets"]
            lost += max(0, inside[-1]["lost"] - inside[0]["lost"])
            values = [1000 * s["jitter"] for s in inside if s.get("jitter") is not None]
            if values:
                jitter.append(max(values))
        start = leg.get("rang") or leg.get("ready") or 0
        one: dict[str, Any] = {s: (round(leg[s] - start) if leg.get(s) else None) for s in STAGES if s != "ready"}
        if leg.get("errors"):
            one["errors"] = leg["errors"]
        if not leg.get("heard"):
            one["peak"] = leg.get("peak")  # what the page heard instead
        per_leg[agent_id] = one

    def p(values: list[float], q: float) -> float | None:
        return round(percentile(values, q), 1) if values else None

    counts = {stage: sum(1 for leg in legs.values() if leg.get(stage)) for stage in STAGES}
    return {
        **{k: report[k] for k in ("calls",)},
        "established": counts["established"],
        "heard_caller": counts["heard"],
        # how many legs got that far: consoles registered, softphones rung, Accept clicked, SIP dialog up,
        # ICE + DTLS connected (the peer connection), a first RTP packet received, the caller's tone heard
        "stages": {
            "registered": counts["ready"],
            "rang": counts["rang"],
            "accept_clicked": counts["clicked"],
            "sip_established": counts["established"],
            "ice_dtls_connected": counts["connected"],
            "first_packet": counts["first_packet"],
            "heard_caller": counts["heard"],
        },
        "setup_p50_ms": p(setup, 50),
        "setup_max_ms": p(setup, 100),
        "setup_samples": len(setup),
        # between stages, p50 / max over the legs that reached both
        "stage_ms": {name: {"p50": p(v, 50), "max": p(v, 100), "n": len(v)} for name, v in gaps.items()},
        "jitter_p95_ms": p(jitter, 95),
        "packets_received": received,
        "packets_lost": lost,
        "loss_pct": round(100 * lost / (received + lost), 3) if received + lost else None,
        **{k: v for k, v in report.items() if k != "calls"},
        # per leg: ms from the softphone ringing to each later stage (null: not reached)
        "legs": per_leg,
        **({} if counts["heard"] == report["calls"] else {"interactions": interactions}),
    }


def _web_interactions(base_url: str) -> dict[str, Any]:
    """The browser queue's interactions as the snapshot shows them (state, agent)."""
    found = httpx.get(f"{base_url}/api/v1/tenants/tenant1/snapshot", headers=_admin_headers(base_url), timeout=10)
    return {
        key: {"state": value.get("state"), "agent": value.get("agent_id")}
        for key, value in found.json()["interactions"].items()
        if value.get("queue_id") == WEB_QUEUE
    }


def _invite_interactions(message_file: Path, interaction_id: Any) -> dict[str, float]:
    """When each INVITE left sipp (its wall clock), by the interaction id the controller makes of its Call-ID and
    From tag."""
    found: dict[str, float] = {}
    if not message_file.exists():
        return found
    for date, clock, what, body in _TRACE.findall(message_file.read_text(errors="replace")):
        if "sent" not in what or not body.startswith("INVITE "):
            continue
        call_id = re.search(r"^Call-ID:\s*(\S+)", body, re.M)
        tag = re.search(r"^From:.*?;tag=([^;\s]+)", body, re.M)
        if call_id and tag:
            found.setdefault(
                interaction_id(call_id.group(1), tag.group(1)),
                datetime.fromisoformat(f"{date}T{clock}").timestamp(),
            )
    return found
