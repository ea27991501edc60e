"""Call recording: rtpengine records, Callbridge stores, serves and forgets.

rtpengine runs with `--recording-method=pcap` (its daemon writes every packet of a recorded call to a pcap
file itself; this works with userspace forwarding, unlike the `proc` method whose recording daemon reads the
kernel module's /proc interface). When a call of a queue whose recording is on is bridged, the controller
sends NG `start recording`; when the call is deleted, rtpengine closes the pcap. Callbridge then turns it into
a stereo WAV (caller left, agent right) with Debian's tools: tshark dissects the RTP packets of each
direction, the G.711 payloads are laid out by RTP timestamp (gaps filled with silence), and sox decodes
them (µ-law or A-law) and interleaves the two channels. The WAV is written like voicemail audio (temporary
file, fsync, rename, folder fsync) to `<data_dir>/recordings/<tenant>/<interaction id>.wav` before its row
exists, and the pcap is removed. A periodic job deletes recordings older than the tenant's retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from callbridge.channels.voicemail.audio import wav_duration
from callbridge.services.audit import Actor
from callbridge.store import recordings as recording_rows
from callbridge.store import voice_settings
from callbridge.store.files import write_atomically

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 90
RETENTION_INTERVAL_SECONDS = 3600.0
RECORDING_MODES = ("off", "on")
SILENCE = {"ul": b"\xff", "al": b"\xd5"}  # a zero sample in each G.711 law
SOX_TYPE = {0: "ul", 8: "al"}  # RTP payload types of G.711 (static, RFC 3551)
CONVERT_SECONDS = 120


class RecordingError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class QueueVoiceSettings:
    tenant_id: str
    queue_id: str
    recording: str = "off"
    announcement_greeting_id: str | None = None
    max_wait_seconds: int | None = None
    voicemail_queue_id: str | None = None


@dataclass(frozen=True, slots=True)
class Recording:
    tenant_id: str
    interaction_id: str
    agent_id: str | None
    queue_id: str
    path: Path
    bytes: int
    sha256: str
    duration_seconds: float | None
    created_at: float
    content_type: str = "audio/wav"


class SettingsError(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class RecordingStore:
    """Settings, rows and files. Synchronous: callers on the event loop go through `asyncio.to_thread`."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.root = data_dir / "recordings"

    def folder(self, tenant_id: str) -> Path:
        return self.root / tenant_id

    # ---------------------------------------------------------------- settings

    def has_phone_queue(self, tenant_id: str, queue_id: str) -> bool:
        return voice_settings.queue_channel(self.engine, tenant_id, queue_id) == "phone"

    def queue_ids(self, tenant_id: str, channel: str) -> list[str]:
        """The tenant's queues of one channel (phone: the ones with settings; voicemail: where messages land)."""
        return voice_settings.queue_ids(self.engine, tenant_id, channel)

    def all_queue_settings(self, tenant_id: str) -> list[QueueVoiceSettings]:
        """Every phone queue's settings (the defaults for a queue never set)."""
        return [self.queue_settings(tenant_id, queue_id) for queue_id in self.queue_ids(tenant_id, "phone")]

    def greetings(self, tenant_id: str) -> list[tuple[str, str]]:
        """(id, name) of the tenant's greetings, which can be played as the recording announcement."""
        return voice_settings.greetings(self.engine, tenant_id)

    def queue_settings(self, tenant_id: str, queue_id: str) -> QueueVoiceSettings:
        row: Any = voice_settings.queue_settings_row(self.engine, tenant_id, queue_id)
        if row is None:
            return QueueVoiceSettings(tenant_id, queue_id)
        return QueueVoiceSettings(
            tenant_id,
            queue_id,
            row.recording,
            row.announcement_greeting_id,
            row.max_wait_seconds,
            row.voicemail_queue_id,
        )

    def put_queue_settings(
        self, settings: QueueVoiceSettings, now: float, actor: Actor | None = None
    ) -> QueueVoiceSettings:
        """Replaces a phone queue's settings; refused (nothing changed) with the field at fault. The change and
        its audit entry (`voice_queue.updated`) are one transaction."""
        if settings.recording not in RECORDING_MODES:
            raise SettingsError("recording must be 'off' or 'on'", "recording")
        if settings.max_wait_seconds is not None and settings.voicemail_queue_id is None:
            # the wait only ends in voicemail (overflow.py): without a voicemail queue it would do nothing
            raise SettingsError(
                "a maximum wait needs a voicemail queue to send callers to: choose one, or leave the wait empty",
                "max_wait_seconds",
            )

        def check(channels: Mapping[str, str], greeting_exists: Callable[[str], bool]) -> None:
            if channels.get(settings.queue_id) != "phone":
                raise SettingsError(f"queue {settings.queue_id!r} is not a phone queue of this tenant", "queue_id")
            if settings.voicemail_queue_id is not None and channels.get(settings.voicemail_queue_id) != "voicemail":
                raise SettingsError(
                    f"queue {settings.voicemail_queue_id!r} is not a voicemail queue of this tenant",
                    "voicemail_queue_id",
                )
            if settings.announcement_greeting_id is not None and not greeting_exists(settings.announcement_greeting_id):
                raise SettingsError(
                    f"greeting {settings.announcement_greeting_id!r} does not exist in this tenant "
                    "(agents record greetings in the console)",
                    "announcement_greeting_id",
                )

        values = {
            "recording": settings.recording,
            "announcement_greeting_id": settings.announcement_greeting_id,
            "max_wait_seconds": settings.max_wait_seconds,
            "voicemail_queue_id": settings.voicemail_queue_id,
        }
        voice_settings.replace_queue_settings(
            self.engine, settings.tenant_id, settings.queue_id, values, now, check=check, actor=actor
        )
        return settings

    def retention_days(self, tenant_id: str) -> int:
        days = voice_settings.retention_days(self.engine, tenant_id)
        return days if days is not None else DEFAULT_RETENTION_DAYS

    def put_retention_days(self, tenant_id: str, days: int, now: float, actor: Actor | None = None) -> int:
        voice_settings.replace_retention_days(
            self.engine, tenant_id, days, now, actor=actor, default_days=DEFAULT_RETENTION_DAYS
        )
        return days

    # ---------------------------------------------------------------- recordings

    def save(
        self, tenant_id: str, interaction_id: str, agent_id: str | None, queue_id: str, audio: bytes, now: float
    ) -> Recording:
        """The file first (atomic, fsynced), then its row: a crash between leaves a file no row names, which
        the retention job does not see; never a row without its file."""
        path = self.folder(tenant_id) / f"{interaction_id}.wav"
        write_atomically(path, audio)
        digest = hashlib.sha256(audio).hexdigest()
        duration = wav_duration(audio)
        recording_rows.replace(
            self.engine,
            {
                "tenant_id": tenant_id,
                "interaction_id": interaction_id,
                "agent_id": agent_id,
                "queue_id": queue_id,
                "file_name": path.name,
                "bytes": len(audio),
                "sha256": digest,
                "duration_seconds": duration,
                "created_at": now,
            },
        )
        return Recording(tenant_id, interaction_id, agent_id, queue_id, path, len(audio), digest, duration, now)

    def find(self, tenant_id: str, interaction_id: str) -> Recording | None:
        row: Any = recording_rows.find(self.engine, tenant_id, interaction_id)
        if row is None:
            return None
        return Recording(
            tenant_id,
            interaction_id,
            row.agent_id,
            row.queue_id,
            self.folder(tenant_id) / row.file_name,
            row.bytes,
            row.sha256,
            row.duration_seconds,
            row.created_at,
        )

    def purge(self, now: float) -> int:
        """Deletes the recordings older than their tenant's retention (rows, then files); returns how many."""
        kept, rows = recording_rows.with_retention(self.engine)
        expired = [
            row for row in rows if row.created_at < now - 86400 * kept.get(row.tenant_id, DEFAULT_RETENTION_DAYS)
        ]
        for row in expired:
            recording_rows.remove(self.engine, row.tenant_id, row.interaction_id)
            with contextlib.suppress(FileNotFoundError):
                (self.folder(row.tenant_id) / row.file_name).unlink()
        return len(expired)


# ------------------------------------------------------------------ pcap → WAV


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RecordingError(f"recordings need {name}: apt-get install {name} (scripts/install-voice-engines)")
    return found


def _tshark(pcap: Path, *args: str) -> list[list[str]]:
    done = subprocess.run(  # noqa: S603 - fixed program, our own arguments
        [_program("tshark"), "-r", str(pcap), *args],
        capture_output=True,
        text=True,
        timeout=CONVERT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RecordingError(f"tshark could not read {pcap.name}: {done.stderr.strip()[-300:]}")
    return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]


def pcap_to_wav(pcap: Path, caller_port: int | None, *, mono: bool = False) -> bytes:
    """rtpengine's pcap of one call → a stereo 8 kHz 16-bit WAV: the caller's stream left, the other right.

    rtpengine writes the packets it received, so each direction is the set of packets from one source port;
    the caller's is the port its SDP offered (`caller_port`), else the first to appear. `mono`: the caller's
    stream alone (a voicemail)."""
    ports = {row[0] for row in _tshark(pcap, "-T", "fields", "-e", "udp.dstport") if row and row[0]}
    if not ports:
        raise RecordingError(f"{pcap.name} holds no packets")
    decode = [arg for port in sorted(ports) for arg in ("-d", f"udp.port=={port},rtp")]
    rows = _tshark(
        pcap,
        *decode,
        "-Y",
        "rtp",
        "-T",
        "fields",
        "-e",
        "frame.time_relative",
        "-e",
        "udp.srcport",
        "-e",
        "rtp.p_type",
        "-e",
        "rtp.seq",
        "-e",
        "rtp.timestamp",
        "-e",
        "rtp.payload",
    )
    streams: dict[int, list[tuple[float, int, int, int, bytes]]] = {}
    for row in rows:
        if len(row) < 6 or not row[5]:
            continue
        payload_type = int(row[2])
        if payload_type not in SOX_TYPE:
            continue  # telephone-event and comfort noise carry no voice
        payload = bytes.fromhex(row[5].replace(":", ""))
        streams.setdefault(int(row[1]), []).append((float(row[0]), payload_type, int(row[3]), int(row[4]), payload))
    if not streams:
        raise RecordingError(f"{pcap.name} holds no G.711 audio")
    order = sorted(streams, key=lambda port: streams[port][0][0])
    if caller_port in streams:
        order = [caller_port, *(port for port in order if port != caller_port)]
    start = min(packets[0][0] for packets in streams.values())
    with tempfile.TemporaryDirectory(prefix="callbridge-recording-") as tmp:
        inputs: list[str] = []
        for index, port in enumerate(order[: 1 if mono else 2]):
            law, audio = _lay_out(streams[port], start)
            raw = Path(tmp) / f"{index}.{law}"
            raw.write_bytes(audio)
            inputs += ["-t", law, "-r", "8000", "-c", "1", str(raw)]
        if len(inputs) == 6 and not mono:  # only one side spoke: the other channel is silence of the same length
            inputs += ["-t", "ul", "-r", "8000", "-c", "1", str(_silence(Path(tmp) / "silence.ul", raw))]
        out = Path(tmp) / "recording.wav"
        done = subprocess.run(  # noqa: S603 - fixed program, our own arguments
            [_program("sox"), *([] if mono else ["-M"]), *inputs, "-e", "signed-integer", "-b", "16", str(out)],
            capture_output=True,
            text=True,
            timeout=CONVERT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise RecordingError(f"sox could not make the WAV: {done.stderr.strip()[-300:]}")
        return out.read_bytes()


def _lay_out(packets: list[tuple[float, int, int, int, bytes]], start: float) -> tuple[str, bytes]:
    """One direction's payloads at their RTP timestamps (8 kHz, one byte a sample), preceded by silence
    until its first packet arrived; a timestamp jump (a new source after the greeting, a lost packet)
    leaves silence, never shifts what follows."""
    law = SOX_TYPE[packets[0][1]]
    by_seq = sorted(packets, key=lambda p: (p[0], p[2]))
    lead = int((by_seq[0][0] - start) * 8000)
    audio = bytearray(SILENCE[law] * lead)
    base_ts, base_at = by_seq[0][3], lead
    for _at, _pt, _seq, timestamp, payload in by_seq:
        offset = base_at + ((timestamp - base_ts) & 0xFFFFFFFF)
        if offset > len(audio) + 8000 * 5 or offset < len(audio) - 8000:
            # a new SSRC or a timestamp leap: continue from where the audio is
            base_ts, base_at, offset = timestamp, len(audio), len(audio)
        if offset > len(audio):
            audio += SILENCE[law] * (offset - len(audio))
        audio[offset : offset + len(payload)] = payload
    return law, bytes(audio)


def _silence(path: Path, like: Path) -> Path:
    path.write_bytes(SILENCE["ul"] * like.stat().st_size)
    return path


# ------------------------------------------------------------------ the controller's side


class Recorder:
    """Starts rtpengine's recording of a bridged call, stores it when the call ends, forgets old ones."""

    def __init__(self, store: RecordingStore, ng: Any, spool: Path, public_url: str) -> None:
        self.store = store
        self.ng = ng
        self.spool = spool
        self.public_url = public_url.rstrip("/")
        self._retention: asyncio.Task[None] | None = None
        self.retention_interval = RETENTION_INTERVAL_SECONDS

    def url(self, tenant_id: str, interaction_id: str) -> str:
        """Where supervisors play it (agents who took the call: /api/v1/me/recordings/{id}/audio)."""
        return f"{self.public_url}/api/v1/tenants/{tenant_id}/recordings/{interaction_id}/audio"

    async def settings(self, tenant_id: str, queue_id: str) -> QueueVoiceSettings:
        return await asyncio.to_thread(self.store.queue_settings, tenant_id, queue_id)

    async def start(self, sip_call_id: str) -> None:
        await self.ng.command("start recording", {"call-id": sip_call_id})

    async def finish(
        self,
        *,
        tenant_id: str,
        interaction_id: str,
        agent_id: str | None,
        queue_id: str,
        sip_call_id: str,
        caller_port: int | None,
    ) -> Recording | None:
        """After rtpengine deleted the call (its pcap is closed): convert, store, remove the pcap."""
        pcaps = sorted(glob.glob(str(self.spool / "pcaps" / f"{glob.escape(sip_call_id)}-*.pcap")))
        if not pcaps:
            log.error("voice: no recording of %s found under %s", interaction_id, self.spool)
            return None
        try:
            audio = await asyncio.to_thread(pcap_to_wav, Path(pcaps[-1]), caller_port)
            saved = await asyncio.to_thread(
                self.store.save, tenant_id, interaction_id, agent_id, queue_id, audio, time.time()
            )
        except (RecordingError, OSError, subprocess.SubprocessError) as error:
            log.error("voice: the recording of %s could not be stored (its pcap is kept): %s", interaction_id, error)
            return None
        await asyncio.to_thread(_remove, pcaps)
        log.info("voice: recording of %s stored (%s s)", interaction_id, saved.duration_seconds)
        return saved

    def start_retention(self) -> None:
        self._retention = asyncio.get_running_loop().create_task(self._retain(), name="voice-recording-retention")

    async def _retain(self) -> None:
        while True:
            try:
                removed = await asyncio.to_thread(self.store.purge, time.time())
                if removed:
                    log.info("voice: %d recordings past their tenant's retention deleted", removed)
            except Exception:
                log.exception("voice: deleting old recordings failed")
            await asyncio.sleep(self.retention_interval)

    async def stop(self) -> None:
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
            self._retention = None


def _remove(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            Path(path).unlink()


def sdp_audio_port(sdp: str) -> int | None:
    found = re.search(r"^m=audio (\d+)", sdp, re.M)
    return int(found.group(1)) if found else None
