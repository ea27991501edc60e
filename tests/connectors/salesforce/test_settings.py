"""Connecting a tenant to Salesforce: the admin's settings, and a connector built from them that signs in
with the integration user's refresh token at the stand-in's token endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from salesforce_standin.rest_api import (
    CLIENT_ID,
    CLIENT_SECRET,
    INSTANCE_URL,
    REFRESH_TOKEN,
    SalesforceRestStandin,
)

from callbridge.connectors import salesforce
from callbridge.connectors.base import ActivityLog, CrmAuthError, CrmConnector, CrmUnavailable
from callbridge.services.crm_connections import discover_plugins

CONFIG: dict[str, Any] = {"instance_url": INSTANCE_URL}
SECRETS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}


def error_locations(error: ValidationError) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in error.errors()]


# ------------------------------------------------------------------ validation


def test_the_plugin_is_found_through_its_entry_point() -> None:
    plugins = discover_plugins()
    assert plugins["salesforce"] is salesforce.plugin


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"instance_url": INSTANCE_URL + "/"}, {"environment": "production", "login_url": ""}),
        (
            {"instance_url": "https://acme--uat.sandbox.my.salesforce.com", "environment": "sandbox"},
            {"environment": "sandbox"},
        ),
        (
            {
                "instance_url": "https://acme.my.salesforce.com",
                "environment": "my_domain",
                "login_url": "https://acme.my.salesforce.com/",
            },
            {"login_url": "https://acme.my.salesforce.com"},
        ),
        (
            {"instance_url": INSTANCE_URL, "activity_key_mode": "call_object", "api_version": "59.0"},
            {"activity_key_mode": "call_object", "api_version": "59.0"},
        ),
        (
            {"instance_url": INSTANCE_URL, "external_id_field": "Acme_Call_Key__c"},
            {"external_id_field": "Acme_Call_Key__c", "activity_key_mode": "external_id"},
        ),
    ],
)
def test_good_settings_are_accepted_and_normalised(config: dict[str, Any], expected: dict[str, Any]) -> None:
    validated = salesforce.plugin.validate(config, SECRETS)
    assert validated["instance_url"] == config["instance_url"].rstrip("/")
    for key, value in expected.items():
        assert validated[key] == value
    assert salesforce.plugin.validate(config, None) == validated  # stored credentials kept


@pytest.mark.parametrize(
    ("config", "secrets", "field"),
    [
        ({}, SECRETS, "instance_url"),
        ({"instance_url": ""}, SECRETS, "instance_url"),
        ({"instance_url": "http://acme.my.salesforce.com"}, SECRETS, "instance_url"),
        ({"instance_url": "https://acme.my.salesforce.com/lightning/page/home"}, SECRETS, "instance_url"),
        ({**CONFIG, "environment": "staging"}, SECRETS, "environment"),
        ({"instance_url": "https://acme--uat.sandbox.my.salesforce.com"}, SECRETS, "environment"),
        ({**CONFIG, "login_url": "https://acme.my.salesforce.com"}, SECRETS, "login_url"),
        ({**CONFIG, "environment": "my_domain", "login_url": "http://acme.my.salesforce.com"}, SECRETS, "login_url"),
        ({**CONFIG, "api_version": "62"}, SECRETS, "api_version"),
        ({**CONFIG, "external_id_field": "CallObject"}, SECRETS, "external_id_field"),
        ({**CONFIG, "external_id_field": "x; DROP__c"}, SECRETS, "external_id_field"),
        ({**CONFIG, "activity_key_mode": "who_knows"}, SECRETS, "activity_key_mode"),
        ({**CONFIG, "request_timeout_seconds": 0}, SECRETS, "request_timeout_seconds"),
        ({**CONFIG, "refresh_token": REFRESH_TOKEN}, SECRETS, "refresh_token"),  # a secret in the wrong place
        (CONFIG, {**SECRETS, "client_id": ""}, "client_id"),
        (CONFIG, {k: v for k, v in SECRETS.items() if k != "client_secret"}, "client_secret"),
        (CONFIG, {**SECRETS, "refresh_token": "5Aep 861"}, "refresh_token"),
        (CONFIG, {**SECRETS, "password": "hunter2"}, "password"),
    ],
)
def test_bad_settings_name_their_field(config: dict[str, Any], secrets: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        salesforce.plugin.validate(config, secrets)
    assert error_locations(raised.value) == [field]


def test_secrets_never_appear_in_the_validated_settings_or_errors() -> None:
    validated = salesforce.plugin.validate(CONFIG, SECRETS)
    assert CLIENT_SECRET not in repr(validated)
    assert REFRESH_TOKEN not in repr(validated)
    with pytest.raises(ValidationError) as raised:
        salesforce.plugin.validate({"instance_url": "http://x"}, {**SECRETS, "client_id": ""})
    assert REFRESH_TOKEN not in str(raised.value)
    assert CLIENT_SECRET not in str(raised.value)


# ------------------------------------------------------------------ from_settings


class SavedSecrets:
    def __init__(self) -> None:
        self.saved: list[dict[str, str]] = []

    async def __call__(self, new: dict[str, str]) -> None:
        self.saved.append(new)


@pytest.fixture
def org() -> SalesforceRestStandin:
    return SalesforceRestStandin(valid_tokens=set())


@pytest.fixture
async def http(org: SalesforceRestStandin) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=org.transport()) as client:
        yield client


def a_log(interaction_id: str = "5f0c6c1e-8a47-4c1f-9d0e-3f8f0a6c2b11") -> ActivityLog:
    return ActivityLog(
        external_id=interaction_id,
        subject="Inbound call from +1 415 555 1212",
        channel="phone",
        direction="inbound",
        started_at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
        duration_seconds=184,
        disposition="Resolved",
        comments="Customer asked about the invoice.",
    )


async def test_from_settings_signs_in_with_the_refresh_token_and_writes_a_task(
    org: SalesforceRestStandin, http: httpx.AsyncClient
) -> None:
    org.token_instance_url = "https://callbridge-test.my.salesforce.com"
    connector = salesforce.plugin.from_settings(
        {"instance_url": "https://callbridge-test.my.salesforce.com"}, SECRETS, http, SavedSecrets()
    )
    assert isinstance(connector, CrmConnector)

    written = await connector.write_activity(a_log())

    assert written.created is True
    assert [str(r.url) for r in org.token_requests] == ["https://login.salesforce.com/services/oauth2/token"]
    request = org.token_requests[0]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert org.token_form() == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert {r.headers["Authorization"] for r in org.requests} == {"Bearer 00D5g00000ORGIDAA1!issued-1"}
    assert org.tasks[0]["Callbridge_Interaction_Id__c"] == "5f0c6c1e-8a47-4c1f-9d0e-3f8f0a6c2b11"
    assert await connector.check_connection() == []
    assert len(org.token_requests) == 1  # the token is kept until Salesforce refuses it


async def test_rest_calls_go_to_the_instance_url_salesforce_answers_with(
    org: SalesforceRestStandin, http: httpx.AsyncClient
) -> None:
    """An admin who entered the Lightning host still reaches the REST API on the org's My Domain."""
    connector = salesforce.plugin.from_settings(
        {"instance_url": "https://callbridge-test.lightning.force.com"}, SECRETS, http, SavedSecrets()
    )
    await connector.search_by_case_number("00001026")
    assert {r.url.host for r in org.requests} == {"callbridge-test.my.salesforce.com"}
    # Pop targets stay on the host the admin chose.
    assert connector.search_target("x").url.startswith("https://callbridge-test.lightning.force.com/")


@pytest.mark.parametrize(
    ("config", "token_url"),
    [
        (
            {"instance_url": INSTANCE_URL, "environment": "sandbox"},
            "https://test.salesforce.com/services/oauth2/token",
        ),
        (
            {"instance_url": INSTANCE_URL, "environment": "my_domain"},
            "https://callbridge-test.my.salesforce.com/services/oauth2/token",
        ),
    ],
)
async def test_the_token_endpoint_is_on_the_environments_login_host(
    org: SalesforceRestStandin, http: httpx.AsyncClient, config: dict[str, Any], token_url: str
) -> None:
    connector = salesforce.plugin.from_settings(config, SECRETS, http, SavedSecrets())
    assert await connector.check_connection() == []
    assert [str(r.url) for r in org.token_requests] == [token_url]


async def test_invalid_session_refreshes_once_and_a_rotated_refresh_token_is_saved_before_use(
    org: SalesforceRestStandin, http: httpx.AsyncClient
) -> None:
    org.rotate_refresh_tokens = True
    saved = SavedSecrets()
    connector = salesforce.plugin.from_settings(CONFIG, SECRETS, http, saved)
    await connector.write_activity(a_log("a"))
    assert saved.saved == [{"refresh_token": "5Aep861rotated1"}]

    org.expire_sessions()  # Salesforce answers INVALID_SESSION_ID to the kept token
    await connector.write_activity(a_log("b"))

    assert [org.token_form(i)["refresh_token"] for i in range(2)] == [REFRESH_TOKEN, "5Aep861rotated1"]
    assert saved.saved == [{"refresh_token": "5Aep861rotated1"}, {"refresh_token": "5Aep861rotated2"}]
    refused = [r for r in org.requests if r.headers["Authorization"] == "Bearer 00D5g00000ORGIDAA1!issued-1"]
    assert refused[-1].method == "PATCH"  # the upsert was refused once, then sent again with the new token
    assert {t["Callbridge_Interaction_Id__c"] for t in org.tasks} == {"a", "b"}


async def test_a_burst_of_invalid_sessions_costs_one_refresh(
    org: SalesforceRestStandin, http: httpx.AsyncClient
) -> None:
    connector = salesforce.plugin.from_settings(CONFIG, SECRETS, http, SavedSecrets())
    await connector.list_users()
    org.expire_sessions()
    await asyncio.gather(*(connector.search_by_case_number(str(n)) for n in range(5)))
    assert len(org.token_requests) == 2


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"refresh_token": "5Aep861revoked"}, "invalid_grant", "Get a new refresh token"),
        ({"client_secret": "wrong"}, "invalid_client", "consumer key or secret"),
        ({"client_id": "3MVG9unknown"}, "invalid_client_id", "consumer key or secret"),
    ],
)
async def test_a_refused_grant_is_a_precise_problem_and_not_retryable(
    org: SalesforceRestStandin, http: httpx.AsyncClient, change: dict[str, str], code: str, words: str
) -> None:
    connector = salesforce.plugin.from_settings(CONFIG, {**SECRETS, **change}, http, SavedSecrets())

    problems = await connector.check_connection()

    assert [p.code for p in problems] == ["bad_credentials"]
    assert words in problems[0].message
    assert code in problems[0].message
    with pytest.raises(CrmAuthError) as raised:
        await connector.write_activity(a_log())
    assert raised.value.code == code
    assert not raised.value.retryable
    assert org.requests == []  # nothing reached the REST API without a token


async def test_a_token_endpoint_outage_is_retryable(org: SalesforceRestStandin, http: httpx.AsyncClient) -> None:
    org.token_endpoint_status = 503
    connector = salesforce.plugin.from_settings(CONFIG, SECRETS, http, SavedSecrets())
    with pytest.raises(CrmUnavailable) as raised:
        await connector.write_activity(a_log())
    assert raised.value.retryable
    assert [p.code for p in await connector.check_connection()] == ["unreachable"]


async def test_a_connection_saved_without_credentials_says_what_to_enter(http: httpx.AsyncClient) -> None:
    connector = salesforce.plugin.from_settings(CONFIG, {}, http, SavedSecrets())
    problems = await connector.check_connection()
    assert [p.code for p in problems] == ["missing_credentials"]
    assert "client_id" in problems[0].message
    assert "refresh_token" in problems[0].message


async def test_api_disabled_for_the_integration_user_is_named(
    org: SalesforceRestStandin, http: httpx.AsyncClient
) -> None:
    org.api_disabled = True
    connector = salesforce.plugin.from_settings(CONFIG, SECRETS, http, SavedSecrets())
    problems = await connector.check_connection()
    assert [p.code for p in problems] == ["api_disabled"]
    assert '"API Enabled"' in problems[0].message


async def test_no_access_token_is_used_before_a_rotated_refresh_token_is_stored(
    org: SalesforceRestStandin, http: httpx.AsyncClient
) -> None:
    org.rotate_refresh_tokens = True
    stored: list[str] = []

    async def save_secrets(new: dict[str, str]) -> None:
        if not stored:
            stored.append("")
            raise OSError("disk full")
        stored.append(new["refresh_token"])

    connector = salesforce.plugin.from_settings(CONFIG, SECRETS, http, save_secrets)
    with pytest.raises(OSError, match="disk full"):
        await connector.write_activity(a_log())
    assert org.requests == []

    await connector.write_activity(a_log())  # the outbox tries again later

    assert stored == ["", "5Aep861rotated2"]
    assert org.token_form(1)["refresh_token"] == "5Aep861rotated1"  # kept in memory, not lost
    assert org.refresh_tokens == {"5Aep861rotated2"}
    assert len(org.tasks) == 1
