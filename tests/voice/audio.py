"""What a peer heard: tones found in its recording, window by window (Goertzel, no dependency); and an MP3 of a
tone, written with libsndfile (which encodes MP3 through LAME since 1.1; Debian's sox depends on it)."""

from __future__ import annotations

import array
import ctypes
import ctypes.util
import math
import struct
from pathlib import Path

WINDOW_SECONDS = 0.1


def read_samples(path: Path) -> tuple[array.array[int], int]:
    """16-bit mono samples and the rate. Also reads a WAV still being written (its header not yet final)."""
    with open(path, "rb") as file:
        raw = file.read()
    fmt_at = raw.find(b"fmt ")
    assert raw[:4] == b"RIFF", f"{path} is not a WAV file"
    assert fmt_at >= 0, f"{path} has no format chunk"
    _format, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", raw, fmt_at + 8)
    assert bits == 16, f"{path}: {bits}-bit samples"
    data_at = raw.find(b"data")
    body = raw[data_at + 8 :] if data_at >= 0 else raw[44:]
    body = body[: len(body) // (2 * channels) * (2 * channels)]
    samples = array.array("h")
    samples.frombytes(body)
    if channels > 1:
        samples = samples[::channels]
    return samples, rate


def goertzel_power(samples: array.array[int], start: int, count: int, frequency: float, rate: int) -> float:
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s_prev = s_prev2 = 0.0
    for index in range(start, start + count):
        s = samples[index] + coefficient * s_prev - s_prev2
        s_prev2, s_prev = s_prev, s
    return (s_prev2 * s_prev2 + s_prev * s_prev - coefficient * s_prev * s_prev2) / (count * count)


def dominant_tones(path: Path, frequencies: dict[str, tuple[float, ...]]) -> list[str]:
    """For each 100 ms window, the name whose frequencies carry clearly the most energy ('' for silence or
    a mixture): e.g. {"greeting": (1000,), "music": (523.25, 659.25), "agent": (1400,)}."""
    samples, rate = read_samples(path)
    window = int(rate * WINDOW_SECONDS)
    labels = []
    for start in range(0, len(samples) - window + 1, window):
        energy = sum(sample * sample for sample in samples[start : start + window]) / window
        if energy < 1e4:  # about -50 dBFS: silence
            labels.append("")
            continue
        best, best_power = "", 0.0
        for name, tones in frequencies.items():
            power = max(goertzel_power(samples, start, window, tone, rate) for tone in tones)
            if power > best_power:
                best, best_power = name, power
        # a pure tone puts about a quarter of the window's energy into its Goertzel bin
        labels.append(best if best_power > 0.05 * energy else "")
    return labels


def first_run(labels: list[str], name: str, length: int = 3) -> int | None:
    """Index of the first window that starts `length` consecutive windows of `name`."""
    for index in range(len(labels) - length + 1):
        if all(label == name for label in labels[index : index + length]):
            return index
    return None


class _SfInfo(ctypes.Structure):
    _fields_ = [
        ("frames", ctypes.c_int64),
        ("samplerate", ctypes.c_int),
        ("channels", ctypes.c_int),
        ("format", ctypes.c_int),
        ("sections", ctypes.c_int),
        ("seekable", ctypes.c_int),
    ]


SF_WRITE = 0x20
SF_FORMAT_MPEG_LAYER_III = 0x230000 | 0x0082  # SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III


def mp3_tone(path: Path, frequency: float, seconds: float, rate: int = 16000) -> Path:
    """A mono MP3 of one sine tone, encoded by libsndfile's LAME (no sox or ffmpeg here writes MP3)."""
    name = ctypes.util.find_library("sndfile")
    assert name, "libsndfile is not installed (Debian: libsndfile1, a dependency of sox)"
    lib = ctypes.CDLL(name)
    lib.sf_open.restype = ctypes.c_void_p
    lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_SfInfo)]
    lib.sf_write_short.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    lib.sf_write_short.restype = ctypes.c_int64
    lib.sf_close.argtypes = [ctypes.c_void_p]
    lib.sf_strerror.argtypes = [ctypes.c_void_p]
    lib.sf_strerror.restype = ctypes.c_char_p
    info = _SfInfo(0, rate, 1, SF_FORMAT_MPEG_LAYER_III, 0, 0)
    handle = lib.sf_open(str(path).encode(), SF_WRITE, ctypes.byref(info))
    assert handle, f"libsndfile cannot write MP3: {lib.sf_strerror(None).decode()}"
    count = int(rate * seconds)
    samples = array.array("h", (int(16000 * math.sin(2 * math.pi * frequency * i / rate)) for i in range(count)))
    written = lib.sf_write_short(handle, samples.buffer_info()[0], count)
    lib.sf_close(handle)
    assert written == count, (written, count)
    return path
