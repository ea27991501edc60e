"""Phone numbers match across the formats people type them in (property-based, generated numbers)."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from callbridge_crm import db as database
from callbridge_crm.models import Contact
from callbridge_crm.phones import to_e164
from callbridge_crm.records import create_record, records_by_phone

area_codes = st.integers(200, 999).filter(lambda n: n % 100 != 11)
exchanges = st.integers(200, 999)
lines = st.integers(0, 9999)


@st.composite
def north_american_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(digits, e164) for a ten-digit North American number."""
    digits = f"{draw(area_codes)}{draw(exchanges)}{draw(lines):04d}"
    return digits, f"+1{digits}"


def spellings(digits: str) -> list[str]:
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return [
        f"+1 {area}-{exchange}-{line}",
        f"({area}) {exchange} {line}",
        digits,
        f"1-{area}-{exchange}-{line}",
        f"+1 ({area}) {exchange}.{line}",
        f"{area}.{exchange}.{line}",
        f"  {area} {exchange} {line}  ",
        f"+1{digits}",
        f"{area}-{exchange}-{line} x123",
        f"({area}) {exchange}-{line} ext. 42",
    ]


@given(north_american_numbers())
def test_every_spelling_of_a_north_american_number_has_one_e164(number: tuple[str, str]) -> None:
    digits, e164 = number
    for spelling in spellings(digits):
        assert to_e164(spelling, "US") == e164, spelling


@given(north_american_numbers())
def test_fast_path_agrees_with_the_full_parser(number: tuple[str, str]) -> None:
    digits, _e164 = number
    for spelling in spellings(digits):
        parsed = phonenumbers.parse(spelling, "US")
        expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        assert to_e164(spelling, "US") == expected


@given(st.sampled_from(["GB", "FR", "DE", "AU", "JP", "BR", "IN"]), st.data())
def test_international_numbers_match_in_national_and_international_form(region: str, data: st.DataObject) -> None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    international = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert to_e164(international, "US") == e164
    assert to_e164(national, region) == e164
    assert to_e164(data.draw(st.sampled_from([international, e164])), region) == e164


@given(st.text(max_size=80))
def test_junk_never_raises(text: str) -> None:
    result = to_e164(text, "US")
    assert result is None or result.startswith("+")


def test_junk_is_not_a_number() -> None:
    for junk in ["", "   ", "unknown", "n/a", "call me", "12", "+", "()", "x123", "🙂", "1" * 200]:
        assert to_e164(junk, "US") is None


@settings(max_examples=25, deadline=None)
@given(north_american_numbers(), st.data())
def test_a_contact_is_found_by_any_spelling_of_its_number(number: tuple[str, str], data: st.DataObject) -> None:
    digits, e164 = number
    engine = create_engine("sqlite://")
    database.initialise(engine, "Test", "US")
    with Session(engine) as session:
        stored, searched = data.draw(st.sampled_from(spellings(digits))), data.draw(st.sampled_from(spellings(digits)))
        contact = create_record(session, "contact", {"last_name": "Lovelace", "phone": stored}, "US")
        create_record(session, "contact", {"last_name": "Junk", "phone": "ask reception"}, "US")
        session.commit()
        found_e164, found = records_by_phone(session, searched, "US")
        assert found_e164 == e164
        assert [record.id for record in found] == [contact.id]
        assert isinstance(found[0], Contact)
        assert found[0].phone == stored  # kept exactly as entered
        assert records_by_phone(session, "ask reception", "US") == (None, [])
    engine.dispose()
