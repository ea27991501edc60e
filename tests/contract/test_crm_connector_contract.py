"""What every CRM connector promises Callbridge (`CrmConnector`), checked alike on each CRM (conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from callbridge.connectors.base import ActivityLog, CrmConnector, PopKind
from tests.contract.conftest import ADA_E164, Backend


def a_log(external_id: str, comments: str = "Asked about the invoice.") -> ActivityLog:
    return ActivityLog(
        external_id=external_id,
        subject="Inbound call from +1 415 555 1212",
        channel="phone",
        direction="inbound",
        started_at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
        duration_seconds=184,
        disposition="Resolved",
        comments=comments,
    )


def test_it_is_a_crm_connector(backend: Backend) -> None:
    assert isinstance(backend.connector, CrmConnector)


async def test_the_caller_number_finds_the_contact_whatever_format_it_is_stored_in(backend: Backend) -> None:
    for number in (ADA_E164, "+1 415 555 1212", "(415) 555-1212"):
        names = [r.name for r in await backend.connector.search_by_phone(number)]
        assert "Ada Lovelace" in names, (number, names)


async def test_an_unknown_number_finds_nothing(backend: Backend) -> None:
    assert list(await backend.connector.search_by_phone("+1 907 555 0188")) == []


async def test_a_case_is_found_by_its_number(backend: Backend) -> None:
    found = await backend.connector.search_by_case_number(backend.case_number)
    assert [r.case_number for r in found] == [backend.case_number]
    assert list(await backend.connector.search_by_case_number("99999999")) == []


async def test_a_found_record_pops_as_that_record(backend: Backend) -> None:
    ada = next(r for r in await backend.connector.search_by_phone(ADA_E164) if r.name == "Ada Lovelace")
    target = backend.connector.record_target(ada)
    assert target.kind is PopKind.RECORD
    assert target.record_id == ada.record_id
    assert target.url.startswith(("http://", "https://"))
    assert backend.connector.search_target(ADA_E164).kind is PopKind.SEARCH


async def test_writing_an_activity_twice_with_one_external_id_updates_it(backend: Backend) -> None:
    external_id = str(uuid.uuid4())
    first = await backend.connector.write_activity(a_log(external_id))
    again = await backend.connector.write_activity(a_log(external_id, comments="Asked about the invoice. Paid."))
    assert first.created is True
    assert again.created is False
    assert again.activity_id == first.activity_id
    other = await backend.connector.write_activity(a_log(str(uuid.uuid4())))
    assert other.created is True
    assert other.activity_id != first.activity_id


async def test_limits_say_how_long_comments_may_be(backend: Backend) -> None:
    limits = await backend.connector.limits()
    assert limits.comments_max_bytes > 1000


async def test_users_can_be_listed_to_map_them_to_agents(backend: Backend) -> None:
    users = list(await backend.connector.list_users())
    assert users
    assert all(u.user_id and u.name for u in users)


async def test_a_working_connection_reports_no_problem(backend: Backend) -> None:
    assert list(await backend.connector.check_connection()) == []
