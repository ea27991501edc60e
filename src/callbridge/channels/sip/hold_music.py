"""A tenant's own hold music: uploaded by an admin, played to that tenant's waiting and held callers.

Without an upload, callers hear the node's default: the music sounds.py generates when voice starts (or the file
CALLBRIDGE_VOICE_HOLD_MUSIC names). An upload is a WAV (PCM, as Python's `wave` reads it) or an MP3 (MPEG
Layer III), the formats rtpengine's `play media` decodes: it is given the file's path and opens it with FFmpeg's
libavformat, which decodes MP3 itself, so an MP3 is stored as uploaded, not converted (tests/voice/
test_hold_music.py has a caller hear one). Both are checked before they are stored: an MP3 by walking its frame
headers (a renamed file or a cut one is refused), both for at least MIN_SECONDS. It is written atomically to
`<data_dir>/voice/hold-music/<tenant>.<wav|mp3>`, and that file is what the controller plays (it looks for it
each time music starts, so a change is heard from the next call or hold on). "Back to default" removes it.
Both are in the audit log (`voice_hold_music.uploaded`, `voice_hold_music.reset`).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from callbridge.channels.voicemail import UnsupportedAudio, sniff_audio
from callbridge.channels.voicemail.audio import MP3, WAV, mp3_duration, wav_duration
from callbridge.services.audit import Actor, record
from callbridge.store import voice_settings
from callbridge.store.files import write_atomically

HOLD_MUSIC_MAX_BYTES = 8 * 1024 * 1024  # about 8 minutes of 8 kHz 16-bit WAV, longer as MP3
HOLD_MUSIC_MAX_MB = HOLD_MUSIC_MAX_BYTES // (1024 * 1024)
MIN_SECONDS = 1.0  # shorter music repeats so fast that it is a beep, not music
EXTENSIONS = {WAV.content_type: "wav", MP3.content_type: "mp3"}


class HoldMusicError(Exception):
    """The upload is refused: `status` is the HTTP status, `field` the form field at fault."""

    def __init__(self, message: str, status: int = 422, field: str = "audio") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True, slots=True)
class HoldMusic:
    tenant_id: str
    path: Path
    content_type: str
    bytes: int
    duration_seconds: float | None
    uploaded_at: float


def checked(data: bytes) -> tuple[str, float | None]:
    """The content type and length of an upload the engines can play; raises HoldMusicError naming `audio`."""
    if not data:
        raise HoldMusicError("audio: the file is empty; choose a WAV or MP3 file")
    if len(data) > HOLD_MUSIC_MAX_BYTES:
        raise HoldMusicError(
            f"audio: the file is larger than {HOLD_MUSIC_MAX_MB} MB; choose a shorter or MP3 file", 413
        )
    try:
        kind = sniff_audio(data[:16])
    except UnsupportedAudio:
        kind = None
    if kind is None or kind.content_type not in EXTENSIONS:
        raise HoldMusicError("audio: hold music must be a WAV (PCM) or MP3 file", 415)
    if kind is WAV:
        duration = wav_duration(data)
        if duration is None:
            raise HoldMusicError("audio: this WAV file cannot be read; save it as PCM WAV (e.g. 8 kHz, 16-bit, mono)")
    else:
        duration = mp3_duration(data)
        if duration is None:
            raise HoldMusicError(
                "audio: this MP3 file cannot be read (not MPEG Layer III audio, or cut short); "
                "export it again or upload a WAV file"
            )
    if duration < MIN_SECONDS:
        raise HoldMusicError(f"audio: the music lasts {duration:.2f} s; give at least {MIN_SECONDS:.0f} s")
    return kind.content_type, duration


class HoldMusicStore:
    """Synchronous (files and an audit row): callers on the event loop go through `asyncio.to_thread`, except
    `path_for`, one or two `stat` calls the controller makes when music starts."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.folder = (data_dir / "voice" / "hold-music").absolute()

    def path_for(self, tenant_id: str) -> Path | None:
        for extension in EXTENSIONS.values():
            path = self.folder / f"{tenant_id}.{extension}"
            if path.is_file():
                return path
        return None

    def current(self, tenant_id: str) -> HoldMusic | None:
        path = self.path_for(tenant_id)
        if path is None:
            return None
        try:
            data = path.read_bytes()
            uploaded_at = path.stat().st_mtime
        except OSError:
            return None
        content_type = WAV.content_type if path.suffix == ".wav" else MP3.content_type
        duration = wav_duration(data) if path.suffix == ".wav" else mp3_duration(data)
        return HoldMusic(tenant_id, path, content_type, len(data), duration, uploaded_at)

    def put(self, tenant_id: str, data: bytes, now: float, actor: Actor) -> HoldMusic:
        content_type, duration = checked(data)
        extension = EXTENSIONS[content_type]
        path = self.folder / f"{tenant_id}.{extension}"
        before = self.current(tenant_id)
        write_atomically(path, data)
        for other in EXTENSIONS.values():
            if other != extension:
                with contextlib.suppress(FileNotFoundError):
                    (self.folder / f"{tenant_id}.{other}").unlink()
        voice_settings.hold_music_changed(
            self.engine,
            lambda connection: record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="voice_hold_music.uploaded",
                target_type="tenant",
                target_id=tenant_id,
                before=None if before is None else {"content_type": before.content_type, "bytes": before.bytes},
                after={
                    "content_type": content_type,
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "duration_seconds": duration,
                },
                at=now,
            ),
        )
        return HoldMusic(tenant_id, path, content_type, len(data), duration, now)

    def reset(self, tenant_id: str, now: float, actor: Actor) -> bool:
        """Back to the node's default music; False when the tenant had none of its own."""
        removed = False
        for extension in EXTENSIONS.values():
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"{tenant_id}.{extension}").unlink()
                removed = True
        if removed:
            voice_settings.hold_music_changed(
                self.engine,
                lambda connection: record(
                    connection,
                    tenant_id=tenant_id,
                    actor=actor,
                    action="voice_hold_music.reset",
                    target_type="tenant",
                    target_id=tenant_id,
                    at=now,
                ),
            )
        return removed
