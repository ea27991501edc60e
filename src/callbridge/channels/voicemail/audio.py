"""What kind of audio a file is, from its first bytes (never from the name or the declared type)."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AudioKind:
    content_type: str
    extension: str


WAV = AudioKind("audio/wav", "wav")
MP3 = AudioKind("audio/mpeg", "mp3")
OGG = AudioKind("audio/ogg", "ogg")


class UnsupportedAudio(ValueError):
    pass


def sniff_audio(head: bytes) -> AudioKind:
    """WAV (RIFF…WAVE), MP3 (an ID3 tag or an MPEG audio frame sync), Ogg (OggS); anything else is refused."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head[:3] == b"ID3":
        return MP3
    if _mpeg_frame_header(head):
        return MP3
    if head[:4] == b"OggS":
        return OGG
    raise UnsupportedAudio("the audio must be WAV, MP3 or Ogg; these bytes are none of them")


def _mpeg_frame_header(head: bytes) -> bool:
    """11 set sync bits, then a version, layer, bitrate and sample rate that are not "reserved" or "bad"."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 15 and sample_rate != 3


def wav_duration(data: bytes) -> float | None:
    """The length in seconds of a PCM WAV file, or None when it cannot be read."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            rate = reader.getframerate()
            return round(reader.getnframes() / rate, 3) if rate else None
    except (wave.Error, EOFError):
        return None
