"""What waiting callers hear when nobody uploaded anything: generated here with sox (and espeak-ng for the
spoken greeting), never a copyrighted recording. Made once into `<data_dir>/voice/sounds/`."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

# A calm arpeggio, C major then A minor, 8 kHz mono: the notes' frequencies are what the tests listen for.
HOLD_MUSIC_NOTES = (523.25, 659.25, 783.99, 659.25, 440.0, 523.25, 659.25, 523.25)
NOTE_SECONDS = 0.45
GREETING_TEXT = "Thank you for calling. Please hold, the next available agent will be with you shortly."


class SoundError(Exception):
    pass


def _run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603 - fixed tools
    except (OSError, subprocess.SubprocessError) as error:
        raise SoundError(f"{command[0]} failed: {error}") from error


def make_hold_music(target: Path) -> Path:
    sox = shutil.which("sox")
    if sox is None:
        raise SoundError("hold music is generated with sox: apt-get install sox (or set CALLBRIDGE_VOICE_HOLD_MUSIC)")
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        notes = []
        for index, frequency in enumerate(HOLD_MUSIC_NOTES):
            note = Path(work) / f"note{index}.wav"
            _run(
                [sox, "-n", "-r", "8000", "-c", "1", "-b", "16", str(note), "synth", str(NOTE_SECONDS), "sine",
                 str(frequency), "fade", "q", "0.03", str(NOTE_SECONDS), "0.08", "vol", "0.5"]
            )  # fmt: skip
            notes.append(str(note))
        partial = Path(work) / "hold.wav"
        _run([sox, *notes, str(partial)])
        partial.replace(target)
    return target


def make_greeting(target: Path) -> Path:
    espeak = shutil.which("espeak-ng")
    sox = shutil.which("sox")
    if espeak is None or sox is None:
        raise SoundError("the default greeting is spoken by espeak-ng and resampled by sox: apt-get install both")
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        spoken = Path(work) / "spoken.wav"
        _run([espeak, "-w", str(spoken), GREETING_TEXT])
        partial = Path(work) / "greeting.wav"
        _run([sox, str(spoken), "-r", "8000", "-c", "1", "-b", "16", str(partial)])
        partial.replace(target)
    return target


def ensure_sounds(directory: Path) -> tuple[Path, Path | None]:
    """The hold music and the default greeting, made if missing. No greeting (None) when espeak-ng is absent:
    callers then go straight to the music."""
    directory.mkdir(parents=True, exist_ok=True)
    music = directory / "hold-music.wav"
    if not music.exists():
        make_hold_music(music)
    greeting: Path | None = directory / "greeting.wav"
    assert greeting is not None
    if not greeting.exists():
        try:
            make_greeting(greeting)
        except SoundError as error:
            log.warning("voice: no default greeting (%s)", error)
            greeting = None
    return music, greeting
