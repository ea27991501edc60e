"""The Salesforce connector against the documented REST shapes (served by the stand-in)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from salesforce_standin.rest_api import INSTANCE_URL, FakeTokens, SalesforceRestStandin

from callbridge.connectors.base import (
    ActivityLog,
    CrmAuthError,
    CrmConnector,
    CrmError,
    CrmFieldError,
    CrmPermissionError,
    CrmRateLimited,
    CrmRecord,
    CrmUnavailable,
    SearchRule,
)
from callbridge.connectors.salesforce import SalesforceConfig, SalesforceConnector, SalesforceDeps, setup
from callbridge.connectors.salesforce.schema import ActivityKeyMode

INTERACTION = "5f0c6c1e-8a47-4c1f-9d0e-3f8f0a6c2b11"


def log(comments: str = "Customer asked about the invoice.", **overrides: object) -> ActivityLog:
    values: dict[str, object] = {
        "external_id": INTERACTION,
        "subject": "Inbound call from +1 415 555 1212",
        "channel": "phone",
        "direction": "inbound",
        "started_at": datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
        "duration_seconds": 184,
        "disposition": "Resolved",
        "comments": comments,
        "crm_user_id": "0055g00000AGENTAA1",
        "who": CrmRecord("Contact", "0035g00000ABCDEAA1", "Ada Lovelace"),
        "what": CrmRecord("Case", "5005g00000ABCDEAA1", "Engine overheats"),
    }
    values.update(overrides)
    return ActivityLog(**values)  # type: ignore[arg-type]


def last_query(org: SalesforceRestStandin, resource: str) -> str:
    request = [r for r in org.requests if r.url.path.endswith(f"/{resource}/")][-1]
    return parse_qs(urlsplit(str(request.url)).query)["q"][0]


def test_satisfies_the_protocol(connector: SalesforceConnector) -> None:
    assert isinstance(connector, CrmConnector)


# ------------------------------------------------------------------ search


async def test_phone_search_sends_escaped_variants_and_keeps_only_same_number(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    records = await connector.search_by_phone("+1 (415) 555-1212")

    sosl = last_query(org, "search")
    assert sosl.startswith("FIND {4155551212 OR 14155551212 OR \\+14155551212 OR ")
    assert '"\\(415\\) 555\\-1212"' in sosl
    assert '"\\+1 415\\-555\\-1212"' in sosl
    assert "IN PHONE FIELDS RETURNING Contact(Id, Name, Phone, MobilePhone" in sosl
    assert "Lead(Id, Name, Phone, MobilePhone, Email), Account(Id, Name, Phone)" in sosl
    # The stand-in also returns near misses (Babbage's 415-555-9999, the account's 555-1212).
    found = {(r.object_type, r.record_id, r.phone) for r in records}
    assert found == {
        ("Contact", "0035g00000ABCDEAA1", "(415) 555-1212"),
        ("Lead", "00Q5g00000ABCDEAA1", "+1 415 555 1212"),
    }
    ada = next(r for r in records if r.object_type == "Contact")
    assert (ada.name, ada.email) == ("Ada Lovelace", "ada@example.com")


async def test_phone_search_with_sosl_reserved_characters_is_escaped(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    assert await connector.search_by_phone("415*555?1212 & {x}") == []
    sosl = last_query(org, "search")
    find = sosl[len("FIND {") : sosl.index("} IN PHONE FIELDS")]
    for reserved in "*?&{}":
        assert reserved not in find.replace("\\" + reserved, "")


async def test_national_number_uses_default_region(org: SalesforceRestStandin) -> None:
    config = SalesforceConfig(instance_url=INSTANCE_URL, default_region="GB")
    async with httpx.AsyncClient(transport=org.transport()) as http:
        connector = setup(SalesforceDeps(config=config, tokens=FakeTokens("token-1"), http=http))
        records = await connector.search_by_phone("020 7946 0958")
    assert [r.record_id for r in records] == ["0035g00000ABCDEAA2"]
    assert "\\+442079460958" in last_query(org, "search")


async def test_case_number_search_uses_escaped_soql_and_pads(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    records = await connector.search_by_case_number("1026")
    assert last_query(org, "query") == (
        "SELECT Id, CaseNumber, Subject, ContactPhone, ContactEmail FROM Case "
        "WHERE CaseNumber IN ('1026', '00001026') LIMIT 10"
    )
    assert [(r.object_type, r.record_id, r.case_number, r.name) for r in records] == [
        ("Case", "5005g00000ABCDEAA1", "00001026", "Engine overheats")
    ]
    await connector.search_by_case_number("x' OR Id != '")
    assert "CaseNumber IN ('x\\' OR Id != \\'')" in last_query(org, "query")


async def test_rule_search_queries_each_rule_and_refuses_bad_names(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    rules = [
        SearchRule(data_key="email", object_type="contact", field="Email"),
        SearchRule(data_key="missing", object_type="Lead", field="Email"),
    ]
    records = await connector.search_by_rules(rules, {"email": "ada@example.com"})
    assert last_query(org, "query") == "SELECT Id, Name, Email FROM Contact WHERE Email = 'ada@example.com' LIMIT 50"
    assert [(r.object_type, r.record_id, r.name) for r in records] == [
        ("Contact", "0035g00000ABCDEAA1", "Ada Lovelace")
    ]
    with pytest.raises(CrmFieldError):
        await connector.search_by_rules([SearchRule("email", "Contact", "Email FROM User --")], {"email": "x"})


# ------------------------------------------------------------------ targets


def test_targets_for_lightning(connector: SalesforceConnector) -> None:
    record = connector.record_target(CrmRecord("contact", "0035g00000ABCDEAA1", "Ada"))
    assert record.url == f"{INSTANCE_URL}/lightning/r/Contact/0035g00000ABCDEAA1/view"
    assert (record.kind, record.object_type, record.record_id) == ("record", "Contact", "0035g00000ABCDEAA1")
    new = connector.new_record_target("Contact", {"Phone": "+14155551212", "LastName": "O'Neil, Jr"})
    assert new.url == (
        f"{INSTANCE_URL}/lightning/o/Contact/new?defaultFieldValues=Phone=%2B14155551212,LastName=O%27Neil%2C%20Jr"
    )
    assert new.prefill == {"Phone": "+14155551212", "LastName": "O'Neil, Jr"}
    search = connector.search_target("+14155551212")
    assert (search.kind, search.query) == ("search", "+14155551212")
    assert search.url.startswith(f"{INSTANCE_URL}/one/one.app#")


def test_targets_for_classic(org: SalesforceRestStandin) -> None:
    config = SalesforceConfig(instance_url=INSTANCE_URL, ui="classic")
    connector = setup(SalesforceDeps(config=config, tokens=FakeTokens("t"), http=httpx.AsyncClient()))
    assert connector.record_target(CrmRecord("Contact", "0035g00000ABCDEAA1", "Ada")).url == (
        f"{INSTANCE_URL}/0035g00000ABCDEAA1"
    )
    assert connector.new_record_target("Lead", {}).url == f"{INSTANCE_URL}/00Q/e"


# ------------------------------------------------------------- activities


async def test_task_upsert_creates_201_with_documented_fields(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    written = await connector.write_activity(log())

    assert written.created is True
    request = [r for r in org.requests if r.method == "PATCH"][-1]
    assert request.url.path == f"/services/data/v62.0/sobjects/Task/Callbridge_Interaction_Id__c/{INTERACTION}"
    (task,) = org.tasks
    assert task["Id"] == written.activity_id
    assert {k: v for k, v in task.items() if k != "Id"} == {
        "Callbridge_Interaction_Id__c": INTERACTION,
        "Subject": "Inbound call from +1 415 555 1212",
        "Description": "Customer asked about the invoice.",
        "CallType": "Inbound",
        "CallDurationInSeconds": 184,
        "CallObject": INTERACTION,
        "CallDisposition": "Resolved",
        "TaskSubtype": "Call",
        "Type": "Call",
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": "2026-11-24",
        "WhoId": "0035g00000ABCDEAA1",
        "WhatId": "5005g00000ABCDEAA1",
        "OwnerId": "0055g00000AGENTAA1",
    }


@pytest.mark.parametrize("update_status", [200, 204])
async def test_task_upsert_again_updates_instead_of_duplicating(
    connector: SalesforceConnector, org: SalesforceRestStandin, update_status: int
) -> None:
    org.update_status = update_status
    first = await connector.write_activity(log())
    again = await connector.write_activity(log(comments="Edited notes", disposition="Call back"))

    assert again.created is False
    assert again.activity_id == first.activity_id
    (task,) = org.tasks
    assert (task["Description"], task["CallDisposition"], task["TaskSubtype"]) == ("Edited notes", "Call back", "Call")


async def test_task_upsert_300_is_refused_without_writing(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    org.tasks.extend(
        [
            {"Id": "00T000000000001AAA", "Callbridge_Interaction_Id__c": INTERACTION},
            {"Id": "00T000000000002AAA", "Callbridge_Interaction_Id__c": INTERACTION},
        ]
    )
    with pytest.raises(CrmError) as caught:
        await connector.write_activity(log())
    assert caught.value.code == "MULTIPLE_CHOICES"
    assert not caught.value.retryable
    assert len(org.tasks) == 2


async def test_lead_task_has_no_what_id(connector: SalesforceConnector, org: SalesforceRestStandin) -> None:
    await connector.write_activity(log(who=CrmRecord("Lead", "00Q5g00000ABCDEAA1", "Grace")))
    (task,) = org.tasks
    assert task["WhoId"] == "00Q5g00000ABCDEAA1"
    assert "WhatId" not in task


async def test_comments_limit_comes_from_describe_and_full_log_is_attached(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    description = next(f for f in org.describe_task["fields"] if f["name"] == "Description")
    description["length"], description["byteLength"] = 4000, 12000
    full = "Notes: " + "é" * 3000  # 6007 bytes

    assert (await connector.limits()).comments_max_bytes == 4000
    written = await connector.write_activity(log(comments=full))

    (task,) = org.tasks
    stored = task["Description"]
    assert len(stored.encode("utf-8")) <= 4000
    assert stored.startswith("Notes: éé")
    assert "full log is attached as callbridge-log-" in stored
    (version,) = org.records["ContentVersion"]
    assert version["FirstPublishLocationId"] == written.activity_id
    assert version["Title"] == f"callbridge-log-{INTERACTION}.txt"
    assert base64.b64decode(version["VersionData"]).decode("utf-8") == full

    await connector.write_activity(log(comments=full))  # a retry attaches nothing twice
    assert len(org.records["ContentVersion"]) == 1


async def test_string_too_long_cuts_to_the_limit_salesforce_names(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    org.enforced_description_limit = 1000  # the org enforces less than its describe says
    full = "x" * 5000

    await connector.write_activity(log(comments=full))

    errors = [r for r in org.requests if r.method == "PATCH"]
    assert len(errors) == 2  # STRING_TOO_LONG, then the cut log
    (task,) = org.tasks
    assert len(task["Description"]) <= 1000
    assert len(org.records["ContentVersion"]) == 1


async def test_fallback_without_external_id_field_keys_on_call_object(org: SalesforceRestStandin) -> None:
    org.describe_task["fields"] = [f for f in org.describe_task["fields"] if not f["name"].endswith("__c")]
    config = SalesforceConfig(instance_url=INSTANCE_URL, activity_key_mode=ActivityKeyMode.CALL_OBJECT)
    async with httpx.AsyncClient(transport=org.transport()) as http:
        connector = setup(SalesforceDeps(config=config, tokens=FakeTokens("token-1"), http=http))
        first = await connector.write_activity(log())
        again = await connector.write_activity(log(comments="second try"))
    assert (first.created, again.created) == (True, False)
    (task,) = org.tasks
    assert (task["Id"], task["CallObject"], task["Description"]) == (first.activity_id, INTERACTION, "second try")
    assert "SELECT Id FROM Task WHERE CallObject = '" + INTERACTION + "'" in last_query(org, "query")


async def test_missing_external_id_field_names_the_field(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    org.describe_task["fields"] = [f for f in org.describe_task["fields"] if not f["name"].endswith("__c")]
    with pytest.raises(CrmFieldError) as caught:
        await connector.write_activity(log())
    assert caught.value.field_name == "Task.Callbridge_Interaction_Id__c"
    assert "Callbridge_Interaction_Id__c" in str(caught.value)
    problems = await connector.check_connection()
    assert [p.code for p in problems] == ["field_missing"]


# ------------------------------------------------------------------ errors


async def test_invalid_session_is_refreshed_once_and_retried(
    connector: SalesforceConnector, org: SalesforceRestStandin, tokens: FakeTokens
) -> None:
    org.valid_tokens = {"token-2"}  # token-1 expired
    records = await connector.search_by_case_number("00001026")
    assert len(records) == 1
    assert tokens.refreshes == 1
    auth = [r.headers["Authorization"] for r in org.requests]
    assert auth == ["Bearer token-1", "Bearer token-2"]


async def test_invalid_session_after_refresh_is_an_auth_error(
    connector: SalesforceConnector, org: SalesforceRestStandin, tokens: FakeTokens
) -> None:
    org.valid_tokens = set()
    with pytest.raises(CrmAuthError) as caught:
        await connector.search_by_phone("4155551212")
    assert caught.value.code == "INVALID_SESSION_ID"
    assert not caught.value.retryable
    assert tokens.refreshes == 1


async def test_request_limit_exceeded_is_retryable_and_tracks_usage(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    org.api_used, org.api_limit = 14998, 15000
    await connector.search_by_case_number("00001026")
    assert connector.api_usage is not None
    assert (connector.api_usage.used, connector.api_usage.limit) == (14999, 15000)
    assert [p.code for p in await connector.check_connection()] == ["request_limit_near"]

    with pytest.raises(CrmRateLimited) as caught:
        await connector.write_activity(log())
    assert caught.value.retryable
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert "request limit" in str(caught.value)
    assert "15000" in str(caught.value)


async def test_api_disabled_names_the_permission(connector: SalesforceConnector, org: SalesforceRestStandin) -> None:
    org.api_disabled = True
    with pytest.raises(CrmPermissionError) as caught:
        await connector.write_activity(log())
    assert caught.value.permission == "API Enabled"
    assert caught.value.code == "API_DISABLED_FOR_ORG"
    assert '"API Enabled"' in str(caught.value)
    assert not caught.value.retryable
    problems = await connector.check_connection()
    assert [p.code for p in problems] == ["api_disabled"]


async def test_server_errors_and_network_failures_are_retryable(
    connector: SalesforceConnector, org: SalesforceRestStandin
) -> None:
    org.fail_next.append((503, "SERVER_UNAVAILABLE"))
    with pytest.raises(CrmUnavailable):
        await connector.search_by_case_number("1")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        offline = setup(SalesforceDeps(SalesforceConfig(instance_url=INSTANCE_URL), FakeTokens("t"), http))
        with pytest.raises(CrmUnavailable) as caught:
            await offline.write_activity(log())
        assert [p.code for p in await offline.check_connection()] == ["unreachable"]
    assert caught.value.retryable


async def test_list_users_escapes_like(connector: SalesforceConnector, org: SalesforceRestStandin) -> None:
    users = await connector.list_users("50%_o'k")
    assert "Name LIKE '%50\\%\\_o\\'k%'" in last_query(org, "query")
    assert {u.email for u in users} == {"alan@example.com", "barbara@example.com"}


async def test_check_connection_is_clean_on_a_configured_org(connector: SalesforceConnector) -> None:
    assert await connector.check_connection() == []
    limits = await connector.limits()
    assert (limits.comments_max_bytes, limits.can_attach_files) == (32000, True)
