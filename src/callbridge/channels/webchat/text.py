"""Chat text rules and rate limits.

Messages are plain text. Nothing is escaped here: the text is stored and sent exactly as typed (less
control characters), and every client renders it as text (`textContent`), so markup stays harmless.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\ufeff]")


class InvalidText(ValueError):
    pass


def clean_text(value: object, max_chars: int) -> str:
    """The message as stored: a string, NFC, without control characters (newlines and tabs stay),
    trimmed, not empty and at most `max_chars` characters."""
    if not isinstance(value, str):
        raise InvalidText("a message is text")
    text = _CONTROL.sub("", unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))).strip()
    if not text:
        raise InvalidText("a message cannot be empty")
    if len(text) > max_chars:
        raise InvalidText(f"a message may be at most {max_chars} characters")
    return text


@dataclass
class RateLimiter:
    """A token bucket: `per_minute` tokens a minute, at most `burst` at once."""

    per_minute: float
    burst: float
    now: Callable[[], float]
    _tokens: float = field(default=-1.0)
    _at: float = 0.0

    def allow(self, cost: float = 1.0) -> bool:
        now = self.now()
        if self._tokens < 0:
            self._tokens, self._at = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_minute / 60)
        self._at = now
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False
