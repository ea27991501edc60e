"""Phone numbers as Callbridge reads them: in E.164, a number without a country code in a region.

How a number is read, end to end, is described in docs/screen-pop-and-auto-log.md ("How phone numbers
are read"). In short: a number that starts with `+` carries its country; one that does not is read in
the tenant's `phone_region` (caller ids, numbers typed into searches), while numbers stored in a CRM
are read in the connector's `default_region`.

Interactions keep their addresses as the channel sent them and, beside them, their *dial digits*
(`dial_digits`): the E.164 digits of a number written with `+`, the bare digits of one written without.
That form needs no region, so changing the tenant's region never invalidates what is stored; a search
turns the number it is given into every form it may have been stored in (`stored_forms`).
"""

from __future__ import annotations

import functools

import phonenumbers

_MAX_INPUT_LENGTH = 64
_MIN_DIGITS = 3
_MAX_DIGITS = 20


def to_e164(raw: str | None, region: str) -> str | None:
    """`raw` in E.164, read in `region` when it has no country code; None when it is not a possible number."""
    if not raw:
        return None
    text = raw.strip()
    if not text or len(text) > _MAX_INPUT_LENGTH or "@" in text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    number.extension = None
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


@functools.lru_cache(maxsize=4096)  # an interaction is written at each change of state, its addresses unchanged
def dial_digits(address: str | None) -> str:
    """What an interaction stores beside an address so a search by number finds it in any format.

    `+1 415 555 0100` → `14155550100` (E.164 without the plus, extension dropped); `(415) 555-0100`
    → `4155550100` (no country code: the digits as written); an e-mail or a name → "" (not a number).
    """
    if not address:
        return ""
    text = address.strip()
    if "@" in text or len(text) > _MAX_INPUT_LENGTH:
        return ""
    if text.startswith("+"):
        e164 = to_e164(text, "ZZ")
        if e164 is not None:
            return e164[1:]
    digits = "".join(c for c in text if c.isdigit())
    return digits if _MIN_DIGITS <= len(digits) <= _MAX_DIGITS else ""


def stored_forms(raw: str, region: str) -> list[str]:
    """Every `dial_digits` under which the number `raw` (read in `region`) may have been stored.

    `+442071838750` → `442071838750` (stored with `+`), `02071838750` (national, with the trunk
    prefix), `2071838750` (national significant number); a number that cannot be read gives its own
    digits only.
    """
    e164 = to_e164(raw, region)
    if e164 is None:
        own = dial_digits(raw)
        return [own] if own else []
    number = phonenumbers.parse(e164, None)
    national = "".join(
        c for c in phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL) if c.isdigit()
    )
    forms = [e164[1:], national, phonenumbers.national_significant_number(number)]
    return list(dict.fromkeys(f for f in forms if f))
