"""The REST API as a connector uses it: search, records, activities, users, errors."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from crm_helpers import PASSWORD, Crm, access_token_for
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from callbridge_crm import admin
from callbridge_crm.models import Activity
from callbridge_crm.records import create_record


@pytest.fixture(scope="module")
def records(crm: Crm) -> dict[str, int]:
    engine = create_engine(crm.database_url)
    with Session(engine) as session:
        account = create_record(session, "account", {"name": "Globex", "phone": "+1 (212) 555-0199"}, "US")
        grace = create_record(
            session,
            "contact",
            {
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "grace@globex.example",
                "phone": "(415) 555 0100",
                "account_id": account.id,
            },
            "US",
        )
        alan = create_record(
            session, "contact", {"first_name": "Alan", "last_name": "Turing", "mobile_phone": "+44 7700 900123"}, "US"
        )
        case = create_record(session, "case", {"subject": "Router keeps rebooting", "contact_id": grace.id}, "US")
        session.commit()
        ids = {"account": account.id, "grace": grace.id, "alan": alan.id, "case": case.id}
        case_number = case.case_number
    engine.dispose()
    return {**ids, "case_number": int(case_number)}


@pytest.mark.parametrize("spelling", ["+1 415-555-0100", "(415) 555 0100", "4155550100", "415.555.0100 x12"])
def test_phone_search_finds_the_contact_in_any_format(
    api: httpx.Client, records: dict[str, int], spelling: str
) -> None:
    body = api.get("/search/phone", params={"number": spelling}).json()
    assert body["e164"] == "+14155550100"
    assert [(r["objectType"], r["id"]) for r in body["records"]] == [("contact", records["grace"])]
    assert body["records"][0]["phone"] == "(415) 555 0100"
    assert body["records"][0]["url"].endswith(f"/records/contact/{records['grace']}")


def test_phone_search_finds_accounts_and_mobiles(api: httpx.Client, records: dict[str, int]) -> None:
    assert api.get("/search/phone", params={"number": "2125550199"}).json()["records"][0]["id"] == records["account"]
    found = api.get("/search/phone", params={"number": "+447700900123"}).json()["records"]
    assert [r["id"] for r in found] == [records["alan"]]


def test_phone_search_reads_numbers_without_a_country_code_in_the_region_asked_for(
    crm: Crm, api: httpx.Client, records: dict[str, int]
) -> None:
    engine = create_engine(crm.database_url)
    with Session(engine) as session:  # typed without +44 in a US organisation
        ada = create_record(
            session, "contact", {"first_name": "Ada", "last_name": "Byron", "phone": "020 7183 8750 ext. 4"}, "US"
        ).id
        session.commit()
    engine.dispose()
    assert api.get("/search/phone", params={"number": "+442071838750"}).json()["totalSize"] == 0
    for number in ("+442071838750", "02071838750"):
        body = api.get("/search/phone", params={"number": number, "region": "gb"}).json()
        assert (body["e164"], [r["id"] for r in body["records"]]) == ("+442071838750", [ada])
    # the organisation's region still counts, and a stored number is checked, not just its digits
    found = api.get("/search/phone", params={"number": "+14155550100", "region": "GB"}).json()["records"]
    assert [r["id"] for r in found] == [records["grace"]]
    assert api.get("/search/phone", params={"number": "+12071838750", "region": "GB"}).json()["totalSize"] == 0
    refused = api.get("/search/phone", params={"number": "+442071838750", "region": "Britain"})
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "INVALID_FIELD"


def test_phone_search_with_junk_finds_nothing_without_error(api: httpx.Client) -> None:
    response = api.get("/search/phone", params={"number": "not a number"})
    assert response.status_code == 200
    assert response.json() == {"number": "not a number", "e164": None, "totalSize": 0, "records": []}


def test_case_number_search(api: httpx.Client, records: dict[str, int]) -> None:
    full = f"{records['case_number']:08d}"
    for typed in (full, str(records["case_number"])):
        found = api.get("/search/case-number", params={"caseNumber": typed}).json()["records"]
        assert [(r["id"], r["caseNumber"]) for r in found] == [(records["case"], full)]
    assert api.get("/search/case-number", params={"caseNumber": "99999999"}).json()["totalSize"] == 0


def test_rule_search(api: httpx.Client, records: dict[str, int]) -> None:
    rules = {"objectType": "contact", "rules": [{"field": "email", "value": "GRACE@globex.example"}]}
    assert [r["id"] for r in api.post("/search/rules", json=rules).json()["records"]] == [records["grace"]]
    both = {
        "objectType": "contact",
        "match": "all",
        "rules": [{"field": "lastName", "value": "hopper"}, {"field": "phone", "value": "+1 415 555 0100"}],
    }
    assert [r["id"] for r in api.post("/search/rules", json=both).json()["records"]] == [records["grace"]]
    either = {**both, "match": "any", "rules": [{"field": "lastName", "value": "Turing"}, both["rules"][0]]}
    assert sorted(r["id"] for r in api.post("/search/rules", json=either).json()["records"]) == sorted(
        [records["grace"], records["alan"]]
    )
    by_case = {"objectType": "case", "rules": [{"field": "caseNumber", "value": str(records["case_number"])}]}
    assert api.post("/search/rules", json=by_case).json()["records"][0]["id"] == records["case"]


def test_rule_search_refuses_fields_outside_the_allow_list(api: httpx.Client) -> None:
    response = api.post(
        "/search/rules", json={"objectType": "contact", "rules": [{"field": "passwordHash", "value": "x"}]}
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"
    assert response.json()[0]["fields"] == ["passwordHash"]


def test_read_record(api: httpx.Client, records: dict[str, int]) -> None:
    case = api.get(f"/records/case/{records['case']}").json()
    assert case["subject"] == "Router keeps rebooting"
    assert case["contactId"] == records["grace"]
    missing = api.get("/records/contact/999999")
    assert missing.status_code == 404
    assert missing.json()[0]["errorCode"] == "NOT_FOUND"


def test_ids_beyond_the_databases_range_are_not_found_or_refused_by_name(api: httpx.Client) -> None:
    huge = "99999999999999999999999"
    for path in (f"/records/contact/{huge}", f"/activities/{huge}/attachments", f"/attachments/{huge}/body"):
        response = api.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()[0]["errorCode"] == "NOT_FOUND"
    unknown = api.get("/no-such-resource")
    assert (unknown.status_code, unknown.json()[0]["errorCode"]) == (404, "NOT_FOUND")
    wrong_method = api.delete("/activities")
    assert (wrong_method.status_code, wrong_method.json()[0]["errorCode"]) == (405, "METHOD_NOT_ALLOWED")
    assert set(wrong_method.headers["Allow"].split(",")) >= {"GET", "POST"}
    for value in (huge, "abc", "-3", "0", "1.5"):
        response = api.get("/activities", params={"contactId": value})
        assert response.status_code == 400, (value, response.text)
        assert response.json() == [
            {
                "errorCode": "INVALID_FIELD",
                "message": "contactId: a record id (a positive whole number) is expected",
                "fields": ["contactId"],
            }
        ]


def _activity(records: dict[str, int], **fields: object) -> dict[str, object]:
    return {
        "subject": "Inbound call",
        "type": "call",
        "direction": "inbound",
        "start": "2030-01-02T03:04:05Z",
        "durationSeconds": 125,
        "disposition": "Resolved",
        "comments": "Customer asked about billing.",
        "contactId": records["grace"],
        "caseId": records["case"],
        **fields,
    }


def _count(crm: Crm, external_id: str) -> int:
    engine = create_engine(crm.database_url)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).where(Activity.external_id == external_id)) or 0
    engine.dispose()
    return count


def test_upsert_by_external_id_leaves_one_activity(api: httpx.Client, crm: Crm, records: dict[str, int]) -> None:
    external_id = f"cb-{uuid.uuid4()}"
    first = api.put(f"/activities/by-external-id/{external_id}", json=_activity(records))
    assert first.status_code == 201
    assert first.json()["success"] is True
    again = api.put(f"/activities/by-external-id/{external_id}", json=_activity(records, disposition="Callback"))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["record"]["disposition"] == "Callback"
    assert _count(crm, external_id) == 1
    listed = api.get("/activities", params={"contactId": records["grace"]}).json()["records"]
    assert external_id in [a["externalId"] for a in listed]


def test_comments_over_the_byte_limit_are_refused_and_nothing_is_saved(
    api: httpx.Client, crm: Crm, records: dict[str, int]
) -> None:
    external_id = f"cb-{uuid.uuid4()}"
    too_long = "é" * 2001  # 4002 bytes in UTF-8, only 2001 characters
    response = api.put(f"/activities/by-external-id/{external_id}", json=_activity(records, comments=too_long))
    assert response.status_code == 400
    error = response.json()[0]
    assert error["errorCode"] == "STRING_TOO_LONG"
    assert error["fields"] == ["comments"]
    assert "max length=4000 bytes" in error["message"]
    assert _count(crm, external_id) == 0
    just_fits = api.put(f"/activities/by-external-id/{external_id}", json=_activity(records, comments="é" * 2000))
    assert just_fits.status_code == 201


def test_activity_validation_names_every_problem(api: httpx.Client, records: dict[str, int]) -> None:
    response = api.post("/activities", json={"type": "fax", "direction": "inbound", "contactId": 987654, "colour": 1})
    codes = {(e["errorCode"], tuple(e["fields"])) for e in response.json()}
    assert response.status_code == 400
    assert ("REQUIRED_FIELD_MISSING", ("subject",)) in codes
    assert ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ("type",)) in codes
    assert ("INVALID_CROSS_REFERENCE_KEY", ("contactId",)) in codes
    assert ("INVALID_FIELD", ("colour",)) in codes
    # numbers no database column can hold are refused by name too, never a server error
    huge = 10**22
    response = api.post(
        "/activities",
        json=_activity(records, caseId=huge, accountId=-huge, leadId=-1, durationSeconds=huge),
    )
    assert response.status_code == 400, response.text
    codes = {(e["errorCode"], tuple(e["fields"])) for e in response.json()}
    assert codes == {
        ("INVALID_CROSS_REFERENCE_KEY", ("caseId",)),
        ("INVALID_CROSS_REFERENCE_KEY", ("accountId",)),
        ("INVALID_CROSS_REFERENCE_KEY", ("leadId",)),
        ("INVALID_TYPE_ON_FIELD_IN_RECORD", ("durationSeconds",)),
    }


def test_full_log_can_be_attached(api: httpx.Client, records: dict[str, int]) -> None:
    created = api.post("/activities", json=_activity(records)).json()
    full_log = ("agent: hello\n" * 1000).encode()
    attached = api.post(
        f"/activities/{created['id']}/attachments",
        json={"name": "full-log.txt", "contentType": "text/plain", "body": base64.b64encode(full_log).decode()},
    )
    assert attached.status_code == 201
    assert attached.json()["size"] == len(full_log)
    listed = api.get(f"/activities/{created['id']}/attachments").json()["records"]
    assert [a["name"] for a in listed] == ["full-log.txt"]
    assert api.get(f"/attachments/{listed[0]['id']}/body").content == full_log


def test_admins_see_every_user_and_others_only_themselves(crm: Crm, api: httpx.Client) -> None:
    admin_token = access_token_for(crm, "ann@example.com")["access_token"]
    listed = httpx.get(f"{crm.base_url}/api/v1/users", headers={"Authorization": f"Bearer {admin_token}"})
    users = {u["email"]: u for u in listed.json()["records"]}
    assert users["ann@example.com"]["roles"] == ["admin", "user"]
    assert users["nia@example.com"]["apiEnabled"] is False
    # as Salesforce with private user sharing: colleagues' e-mail addresses take "View All Users"
    assert [u["email"] for u in api.get("/users").json()["records"]] == ["abe@example.com"]


def test_only_the_owner_or_an_admin_changes_an_activity(crm: Crm, api: httpx.Client, records: dict[str, int]) -> None:
    external_id = "owned-by-abe"
    created = api.put(f"/activities/by-external-id/{external_id}", json=_activity(records, subject="Abe's call"))
    assert created.status_code == 201, created.text
    activity_id = created.json()["id"]
    admin.create_user(crm.database_url, email="cole@example.com", name="Cole Colleague", password=PASSWORD)
    colleague = {"Authorization": f"Bearer {access_token_for(crm, 'cole@example.com')['access_token']}"}
    base = f"{crm.base_url}/api/v1"
    overwrite = httpx.put(
        f"{base}/activities/by-external-id/{external_id}", json={"subject": "Overwritten"}, headers=colleague
    )
    assert overwrite.status_code == 403, overwrite.text
    assert overwrite.json()[0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    attach = {"name": "x.txt", "contentType": "text/plain", "body": base64.b64encode(b"x").decode()}
    refused = httpx.post(f"{base}/activities/{activity_id}/attachments", json=attach, headers=colleague)
    assert refused.status_code == 403
    assert api.get(f"/records/activity/{activity_id}").json()["subject"] == "Abe's call"
    assert api.get(f"/activities/{activity_id}/attachments").json()["records"] == []
    # reading stays open to colleagues (activities follow their parent record), and admins may change it
    assert httpx.get(f"{base}/records/activity/{activity_id}", headers=colleague).status_code == 200
    admin_headers = {"Authorization": f"Bearer {access_token_for(crm, 'ann@example.com')['access_token']}"}
    fixed = httpx.put(
        f"{base}/activities/by-external-id/{external_id}", json={"subject": "Fixed by admin"}, headers=admin_headers
    )
    assert fixed.status_code == 200, fixed.text
    assert api.put(f"/activities/by-external-id/{external_id}", json={"subject": "Abe again"}).status_code == 200


def test_missing_or_bad_token_is_invalid_session(crm: Crm) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}):
        response = httpx.get(f"{crm.base_url}/api/v1/users", headers=headers)
        assert response.status_code == 401
        assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_user_without_api_permission_gets_a_clear_refusal(crm: Crm) -> None:
    token = access_token_for(crm, "nia@example.com")["access_token"]
    response = httpx.get(f"{crm.base_url}/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()[0]["errorCode"] == "API_DISABLED_FOR_USER"
    assert "API Enabled" in response.json()[0]["message"]


def test_read_only_token_cannot_write(crm: Crm, records: dict[str, int]) -> None:
    token = access_token_for(crm, scope="openid crm.read")["access_token"]
    response = httpx.post(
        f"{crm.base_url}/api/v1/activities", json=_activity(records), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert response.json()[0]["errorCode"] == "INSUFFICIENT_ACCESS"


def test_openapi_document_lists_every_route(crm: Crm) -> None:
    document = httpx.get(f"{crm.base_url}/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    app = crm.server.app
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
            path = rule.rule.removeprefix("/api/v1")
            for converter in (
                "<object_type>",
                "<int:record_id>",
                "<path:external_id>",
                "<int:activity_id>",
                "<int:attachment_id>",
            ):
                replacement = {
                    "<object_type>": "{objectType}",
                    "<path:external_id>": "{externalId}",
                }.get(converter, "{id}")
                path = path.replace(converter, replacement)
            served |= {(path, method) for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    assert served == documented
