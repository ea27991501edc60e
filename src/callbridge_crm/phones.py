"""Phone numbers: kept as entered, matched in E.164.

A number is stored exactly as a person typed it and indexed under its E.164 form, so that
"+1 415-555-0100", "(415) 555 0100" and "4155550100" all find the same record. Extensions
("x123", "ext. 12") are not part of the match. Anything that cannot be read as a phone number
is kept as entered and simply not indexed: it never raises.

A number written without a country code is read in the organisation's default region, and is also
indexed under its digits (`#02071838750`), so that a search that names another region (a client
whose numbers are, say, British while the organisation's region is US) can read it in that region:
`national_keys` lists the digit keys a number may have been written under in a region, and the
search checks each hit by reading the stored number in that region.
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


_NATIONAL_PREFIX = "#"
_MIN_NATIONAL_DIGITS = 4
_MAX_NATIONAL_DIGITS = 17


def national_key(raw: str | None) -> str | None:
    """The digit key of a number written without a country code (no leading "+"), or None."""
    if not raw:
        return None
    text = raw.strip()
    if not text or text.startswith("+") or len(text) > _MAX_INPUT_LENGTH:
        return None
    # the extension is not part of the number
    text = re.split(r"(?i)\s*(?:ext\.?|x|#)\s*\d+\s*$", text)[0]
    digits = "".join(c for c in text if c.isdigit())
    if not _MIN_NATIONAL_DIGITS <= len(digits) <= _MAX_NATIONAL_DIGITS:
        return None
    return _NATIONAL_PREFIX + digits


def index_keys(raw: str | None, region: str) -> list[str]:
    """Every key the phone index holds for one stored number: its E.164 form, and its digit key."""
    keys = [key for key in (to_e164(raw, region), national_key(raw)) if key is not None]
    return list(dict.fromkeys(keys))


def national_keys(e164: str) -> list[str]:
    """The digit keys under which `e164` may have been written without a country code: national format
    (with the trunk prefix), national number, country code and number, and both common international
    prefixes."""
    number = phonenumbers.parse(e164, None)
    national = "".join(
        c for c in phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL) if c.isdigit()
    )
    significant = phonenumbers.national_significant_number(number)
    with_code = e164[1:]
    forms = [national, significant, with_code, "00" + with_code, "011" + with_code]
    return list(dict.fromkeys(_NATIONAL_PREFIX + f for f in forms if f))


def is_national_key(key: str) -> bool:
    return key.startswith(_NATIONAL_PREFIX)


def is_known_region(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS
