"""Phone numbers: kept as entered, matched in E.164.

A number is stored exactly as a person typed it and indexed under its E.164 form, so that
"+1 415-555-0100", "(415) 555 0100" and "4155550100" all find the same record. Extensions
("x123", "ext. 12") are not part of the match. Anything that cannot be read as a phone number
is kept as entered and simply not indexed: it never raises.
"""

from __future__ import annotations

import re

import phonenumbers

# A bare North American number ("4155550100", "(415) 555-0100", "+1 415.555.0100") is by far the
# most common shape in imports; reading it with a regular expression instead of the full parser
# keeps CSV imports fast. Only shapes the full parser reads the same way take this path (the
# property-based tests compare both).
_NANP_REGIONS = frozenset({"US", "CA"})
_NANP_SHAPE = re.compile(r"^\s*(?:\+?1[\s.\-]?)?\(?([2-9]\d{2})\)?[\s.\-]?([2-9]\d{2})[\s.\-]?(\d{4})\s*$")
_MAX_INPUT_LENGTH = 64


def to_e164(raw: str | None, region: str) -> str | None:
    """The E.164 form of `raw` read in `region`, or None when it is not a possible phone number."""
    if not raw:
        return None
    text = raw.strip()
    if not text or len(text) > _MAX_INPUT_LENGTH:
        return None
    if region in _NANP_REGIONS or text.startswith("+1"):
        match = _NANP_SHAPE.match(text)
        if match and (region in _NANP_REGIONS or text.lstrip().startswith("+")):
            return "+1" + "".join(match.groups())
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    number.extension = None
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


def is_known_region(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS
