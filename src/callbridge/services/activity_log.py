"""The text of an auto log, and fitting it into a CRM's comments field.

Pure functions, shared by every connector: a CRM's comments field has a byte
limit (4000 bytes of UTF-8 in the reference integration, which then refuses
to save the log at all). Callbridge never lets a log be refused for its size:
it cuts at a UTF-8 character boundary within the limit, ends the text with a
note saying so, attaches the full log where the CRM allows it, and always
keeps the full log itself (the auto-log outbox row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

CUT_MARKER = "[Cut by Callbridge"


def full_log_filename(external_id: str) -> str:
    return f"callbridge-log-{external_id}.txt"


def cut_note(crm_name: str, filename: str, *, attached: bool = True) -> str:
    where = f"the full log is attached as {filename}" if attached else "the full log is kept in Callbridge"
    return f"\n\n{CUT_MARKER} to fit {crm_name}'s limit; {where}.]"


def fit_comments(
    text: str, max_bytes: int, filename: str, *, crm_name: str = "the CRM", attached: bool = True
) -> tuple[str, bool]:
    """Cuts `text` at a UTF-8 character boundary so that it and a note saying so fit in `max_bytes`.

    Returns the text to store and whether it was cut. The result is always valid UTF-8 and at most
    `max_bytes` long (the note itself is cut too if the limit is absurdly small).
    """
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text, False
    note = cut_note(crm_name, filename, attached=attached)
    budget = max(0, max_bytes - len(note.encode("utf-8")))
    # errors="ignore" drops the partial character the byte cut may have split
    head = encoded[:budget].decode("utf-8", errors="ignore")
    fitted = head + note
    if len(fitted.encode("utf-8")) > max_bytes:
        fitted = fitted.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
    return fitted, True


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    at: float
    sender: str
    text: str


def compose_comments(
    *,
    queue_name: str,
    agent_name: str,
    disposition: str,
    notes: str,
    transcript: Sequence[TranscriptLine] = (),
    data: dict[str, str] | None = None,
) -> str:
    """The comments of an activity: who handled it and where, the wrap-up notes, then the transcript."""
    lines = []
    if queue_name:
        lines.append(f"Queue: {queue_name}")
    if agent_name:
        lines.append(f"Agent: {agent_name}")
    if disposition:
        lines.append(f"Disposition: {disposition}")
    text = "\n".join(lines)
    if notes.strip():
        text += ("\n\n" if text else "") + "Notes:\n" + notes.strip()
    if transcript:
        rendered = "\n".join(
            f"[{datetime.fromtimestamp(line.at, UTC).strftime('%H:%M:%S')}] {line.sender}: {line.text}"
            for line in transcript
        )
        text += ("\n\n" if text else "") + "Transcript:\n" + rendered
    return text
