"""What a peer heard: tones found in its recording, window by window (Goertzel, no dependency)."""

from __future__ import annotations

import array
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
