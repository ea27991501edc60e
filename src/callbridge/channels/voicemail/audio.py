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


# MPEG audio frame header tables (ISO 11172-3 / 13818-3), Layer III only: what rtpengine's player is given.
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits
_LAYER3_KBPS = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5
}
MP3_MIN_FRAMES = 10  # a file's first bytes can look like one frame by chance; ten chained frames cannot


def mp3_duration(data: bytes) -> float | None:
    """The length in seconds of an MP3 (MPEG Layer III) file, walking its frame headers; None when the bytes are
    not a chain of at least MP3_MIN_FRAMES frames (a renamed or truncated file, or another format). Only
    headers are read, not the audio: a frame's header gives its length and its samples, so this is exact for
    constant and variable bit rates alike."""
    at = 0
    if data[:3] == b"ID3" and len(data) >= 10:  # ID3v2 tag: its size is four 7-bit bytes, after a 10-byte header
        at = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
        if data[5] & 0x10:  # a footer follows the tag
            at += 10
    frames = 0
    seconds = 0.0
    while at + 4 <= len(data):
        b1, b2 = data[at + 1], data[at + 2]
        version, layer = (b1 >> 3) & 0x3, (b1 >> 1) & 0x3
        bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 0x3, (b2 >> 1) & 0x1
        if (
            data[at] != 0xFF
            or b1 & 0xE0 != 0xE0
            or version == 1
            or layer != 1  # Layer III
            or bitrate_index in (0, 15)  # free format (0) is not played by every decoder; 15 is invalid
            or rate_index == 3
        ):
            break
        rate = _MPEG_RATES[version][rate_index]
        kbps = _LAYER3_KBPS[3 if version == 3 else 2][bitrate_index]
        length = (144 if version == 3 else 72) * kbps * 1000 // rate + padding
        if at + length > len(data):  # the last frame cut short: the file is truncated
            break
        frames += 1
        seconds += (1152 if version == 3 else 576) / rate
        at += length
    if frames < MP3_MIN_FRAMES:
        return None
    return round(seconds, 3)
