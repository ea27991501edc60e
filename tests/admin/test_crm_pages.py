"""The screen-pop and CRM connection pages against a real built-in CRM: bad input is refused next to its field
and changes nothing; good input is saved (and audited once); the "test" search shows what would pop."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.admin.conftest import csrf_of, errors_of, sign_in_page
from tests.crm.crm_helpers import Crm
from tests.crm_integration.conftest import (  # noqa: F401 (fixtures)
    CrmIds,
    connect_crm,
    crm,
    crm_ids,
    make_crm_harness,
)
from tests.e2e.conftest import Harness


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a CRM that is too slow."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    crm: Crm,  # noqa: F811
    crm_ids: CrmIds,  # noqa: F811 (the CRM's records: Grace Hopper, two Twins sharing a number, a case)
    silent_port: int,
) -> Iterator[Harness]:
    for h in make_crm_harness(tmp_path_factory.mktemp("cb")):
        h.setup_tenant("acme")
        h.setup_tenant("globex", agents=1)
        connect_crm(h, crm, "acme")
        connect_crm(h, crm, "globex", base_url=f"http://127.0.0.1:{silent_port}")
        sign_in_page(h.client)
        yield h


def audit(h: Harness, target_type: str) -> list[dict[str, Any]]:
    params = {"target_type": target_type}
    found: list[dict[str, Any]] = h.client.get("/api/v1/tenants/acme/audit-log", params=params, headers=h.admin).json()
    return found


FORM = {
    "enabled": "on",
    "crm": "builtin_crm",
    "agents": "all",
    "triggers": ["offered", "accepted"],
    "phone_by_caller_id": "on",
    "chat_by_case_number": "on",
    "rule_rows": "1",
    "rule-0-data_key": "",
    "rule-0-object_type": "",
    "rule-0-field": "",
    "new_record_object_type": "lead",
    "search_timeout_ms": "3000",
    "window.width": "900",
    "window.height": "",
    "window.reuse": "same",
    "auto_log.crm": "builtin_crm",
    "auto_log.phone": "on",
    "auto_log.chat": "on",
}

BAD_SCREEN_POP: list[tuple[dict[str, Any], str, str]] = [
    ({"search_timeout_ms": "5"}, "search_timeout_ms", "greater than or equal to 20"),
    ({"search_timeout_ms": "soon"}, "search_timeout_ms", "whole number"),
    ({"window.width": "50"}, "window.width", "greater than or equal to 100"),
    ({"triggers": ["offered", "rung"]}, "triggers", "'rung' Input should be"),
    ({"crm": "zoho"}, "crm", "no connector named 'zoho'"),
    ({"agents": "chosen", "agent_ids": ["agent1", "ghost"]}, "agent_ids", "no agent 'ghost'"),
    ({"rule-0-data_key": "account number", "rule-0-object_type": "account"}, "rules.0.data_key", "pattern"),
    ({"rule-0-data_key": "acct", "rule-0-object_type": "account"}, "rules.0.field", "at least 1 character"),
    ({"new_record_object_type": ""}, "new_record_object_type", "at least 1 character"),
    ({"auto_log.crm": "zoho"}, "auto_log.crm", "no connector named 'zoho'"),
]


def test_the_screen_pop_form_refuses_bad_input_next_to_the_field_and_saves_good_input(site: Harness) -> None:
    c = site.client
    page = c.get("/admin/acme/screen-pop")
    assert page.status_code == 200
    token = csrf_of(page.text)
    before = c.get("/api/v1/tenants/acme/screen-pop", headers=site.admin).json()
    for change, field, words in BAD_SCREEN_POP:
        response = c.post("/admin/acme/screen-pop", data={**FORM, **change, "csrf_token": token, "action": "save"})
        assert response.status_code == 422, (change, response.text)
        assert words in errors_of(response.text).get(field, ""), (change, errors_of(response.text))
    assert c.get("/api/v1/tenants/acme/screen-pop", headers=site.admin).json() == before
    assert audit(site, "screen_pop") == []

    # "Add a rule" gives another row and saves nothing
    more = c.post("/admin/acme/screen-pop", data={**FORM, "csrf_token": token, "action": "add_rule"})
    assert 'name="rule-1-data_key"' in more.text
    rule = {"rule-0-data_key": "account_number", "rule-0-object_type": "account", "rule-0-field": "account_number"}
    saved = c.post(
        "/admin/acme/screen-pop",
        data={**FORM, **rule, "rule-0-channels": ["phone"], "csrf_token": token, "action": "save"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    settings = c.get("/api/v1/tenants/acme/screen-pop", headers=site.admin).json()
    assert settings["enabled"] is True
    assert settings["triggers"] == ["offered", "accepted"]
    assert settings["rules"] == [
        {"data_key": "account_number", "object_type": "account", "field": "account_number", "channels": ["phone"]}
    ]
    assert settings["window"] == {"width": 900, "height": None, "reuse": True}
    assert settings["new_record_object_type"] == "lead"
    assert settings["search_timeout_ms"] == 3000
    log = c.get("/api/v1/tenants/acme/auto-log/settings", headers=site.admin).json()
    assert log == {"crm": "builtin_crm", "phone": True, "voicemail": False, "chat": True}
    assert [e["action"] for e in audit(site, "screen_pop")] == ["screen_pop.updated"]
    assert [e["action"] for e in audit(site, "auto_log_settings")] == ["auto_log_settings.updated"]
    shown = c.get("/admin/acme/screen-pop").text
    assert 'value="account_number"' in shown
    assert "Screen-pop settings saved" in c.get("/admin/acme/screen-pop?done=screen_pop_saved").text

    # a rule ticked for removal is gone after saving
    removed = {**FORM, **rule, "rule-0-remove": "on", "csrf_token": token, "action": "save"}
    assert c.post("/admin/acme/screen-pop", data=removed, follow_redirects=False).status_code == 303
    assert c.get("/api/v1/tenants/acme/screen-pop", headers=site.admin).json()["rules"] == []


def test_the_test_button_shows_what_would_pop_through_the_real_crm(site: Harness) -> None:
    c = site.client
    token = csrf_of(c.get("/admin/acme/screen-pop").text)
    before = c.get("/api/v1/tenants/acme/screen-pop", headers=site.admin).json()
    audited = len(audit(site, "screen_pop"))

    def test(tenant: str = "acme", **sample: Any) -> str:
        form = {**FORM, "csrf_token": csrf_of(c.get(f"/admin/{tenant}/screen-pop").text), "action": "test"}
        response = c.post(f"/admin/{tenant}/screen-pop", data={**form, **sample})
        assert response.status_code == 200, response.text
        return response.text

    one = test(sample_phone="+1 415 555 0100")
    assert 'data-test-result="record"' in one
    assert "Grace Hopper" in one
    several = test(sample_phone="(650) 555-0123")
    assert 'data-test-result="search"' in several
    assert "2 matches" in several
    assert "Ann Twin" in several
    assert "Bo Twin" in several
    none = test(sample_phone="+1 212 555 0000", sample_data="name=Nobody Known")
    assert 'data-test-result="new_record"' in none
    assert "new lead form" in none
    assert "+1 212 555 0000" in none
    assert "Nobody Known" in none
    chat = test(sample_channel="chat", sample_case_number="00009999")
    assert 'data-test-result="new_record"' in chat
    assert "new case form" in chat
    slow = test("globex", search_timeout_ms="20", sample_phone="+1 415 555 0100")
    assert 'data-test-result="timed_out"' in slow
    bad = c.post(
        "/admin/acme/screen-pop",
        data={**FORM, "csrf_token": token, "action": "test", "sample_data": "no equals sign"},
    )
    assert bad.status_code == 422
    assert "key=value" in errors_of(bad.text)["sample_data"]
    # testing saves nothing
    assert c.get("/api/v1/tenants/acme/screen-pop", headers=site.admin).json() == before
    assert len(audit(site, "screen_pop")) == audited


def test_the_crm_connection_form_saves_checks_and_keeps_credentials(site: Harness, crm: Crm) -> None:  # noqa: F811
    c = site.client
    page = c.get("/admin/acme/crm")
    token = csrf_of(page.text)
    assert 'data-crm="salesforce"' in page.text
    before = c.get("/api/v1/tenants/acme/crm-connections/builtin_crm", headers=site.admin).json()
    audited = len(audit(site, "crm_connection"))

    bad = c.post("/admin/acme/crm/builtin_crm", data={"csrf_token": token, "config.base_url": "ftp://crm"})
    assert bad.status_code == 422
    assert "https://" in errors_of(bad.text)["config.base_url"]
    region = c.post(
        "/admin/acme/crm/builtin_crm",
        data={"csrf_token": token, "config.base_url": crm.base_url, "config.default_region": "usa"},
    )
    assert "pattern" in errors_of(region.text)["config.default_region"]
    # Salesforce: a sandbox instance with the production login host, and a first save without credentials
    sandbox = c.post(
        "/admin/acme/crm/salesforce",
        data={
            "csrf_token": token,
            "config.instance_url": "https://acme--dev.sandbox.my.salesforce.com",
            "config.environment": "production",
        },
    )
    assert "sandbox" in errors_of(sandbox.text)["config.environment"]
    no_credentials = c.post(
        "/admin/acme/crm/salesforce",
        data={"csrf_token": token, "config.instance_url": "https://acme.my.salesforce.com"},
    )
    assert no_credentials.status_code == 422
    assert errors_of(no_credentials.text)["credentials.client_secret"]
    assert c.get("/api/v1/tenants/acme/crm-connections/salesforce", headers=site.admin).status_code == 404
    assert c.get("/api/v1/tenants/acme/crm-connections/builtin_crm", headers=site.admin).json() == before
    assert len(audit(site, "crm_connection")) == audited

    # good settings, credentials left empty: the stored ones are kept and still work
    good = {"csrf_token": token, "config.base_url": crm.base_url + "/", "config.request_timeout_seconds": "5"}
    assert c.post("/admin/acme/crm/builtin_crm", data=good, follow_redirects=False).status_code == 303
    saved = c.get("/api/v1/tenants/acme/crm-connections/builtin_crm", headers=site.admin).json()
    assert saved["config"]["base_url"] == crm.base_url
    assert saved["config"]["request_timeout_seconds"] == 5
    assert saved["has_credentials"] is True
    changes = audit(site, "crm_connection")[0]["changes"]
    assert changes["request_timeout_seconds"] == {"before": None, "after": 5.0}
    assert "base_url" not in changes
    assert not any(k.startswith("credentials.") for k in changes)
    ok = c.post("/admin/acme/crm/builtin_crm/test", data={"csrf_token": token})
    assert 'data-problem="ok"' in ok.text

    # a wrong refresh token: the test says the credentials are bad, in words
    wrong = {**good, "credentials.refresh_token": "not-a-token"}
    assert c.post("/admin/acme/crm/builtin_crm", data=wrong, follow_redirects=False).status_code == 303
    refused = c.post("/admin/acme/crm/builtin_crm/test", data={"csrf_token": token})
    assert 'data-problem="bad_credentials"' in refused.text
    assert "Bad credentials" in refused.text
    assert "not-a-token" not in str(audit(site, "crm_connection"))


def test_a_missing_connection_is_named(site: Harness) -> None:
    c = site.client
    token = csrf_of(c.get("/admin/acme/crm").text)
    tested = c.post("/admin/acme/crm/salesforce/test", data={"csrf_token": token})
    assert 'data-problem="not_configured"' in tested.text
