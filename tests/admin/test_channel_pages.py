"""Admin pages for what was API-only: the telephony command webhook and the chat widget's settings."""

from __future__ import annotations

from typing import Any

from tests.admin.conftest import csrf_of, errors_of, sign_in_page
from tests.e2e.conftest import Harness

SECRET = "s3cret-for-the-pbx-0123"  # noqa: S105 (a test secret)


def _post(h: Harness, path: str, form: dict[str, Any]) -> Any:
    token = csrf_of(h.client.get(path).text)
    return h.client.post(path, data={**form, "csrf_token": token}, follow_redirects=False)


def test_the_telephony_page_sets_keeps_and_removes_the_command_webhook(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    page = c.get("/admin/acme/telephony")
    assert page.status_code == 200
    assert "No webhook" in page.text
    assert 'href="/admin/acme/telephony"' in page.text  # in the admin's sections
    api = "/api/v1/tenants/acme/telephony/settings"

    url = "http://127.0.0.1:8999/commands"
    refused = _post(harness, "/admin/acme/telephony", {"webhook_url": url, "timeout_seconds": "2"})
    assert refused.status_code == 422
    assert "Enter a signing secret" in errors_of(refused.text)["signing_secret"]
    refused = _post(harness, "/admin/acme/telephony", {"webhook_url": "ftp://pbx.example/x", "signing_secret": SECRET})
    assert refused.status_code == 422
    assert "webhook_url" in errors_of(refused.text)
    short = _post(harness, "/admin/acme/telephony", {"webhook_url": url, "signing_secret": "short"})
    assert "at least 16" in errors_of(short.text)["signing_secret"]
    assert c.get(api, headers=harness.admin).json()["webhook_url"] is None  # nothing was saved

    assert 'name="command_hold" value="on" checked' in page.text, "hold and resume are ticked until changed"
    assert 'name="command_connect" value="on" >' in page.text
    ticked = {"command_hold": "on", "command_resume": "on", "command_connect": "on"}
    saved = _post(
        harness,
        "/admin/acme/telephony",
        {"webhook_url": url, "signing_secret": SECRET, "timeout_seconds": "2", **ticked},
    )
    assert saved.status_code == 303, saved.text
    assert c.get(api, headers=harness.admin).json() == {
        "webhook_url": url,
        "has_signing_secret": True,
        "timeout_seconds": 2.0,
        "commands": ["hold", "resume", "connect"],
    }
    page = c.get(saved.headers["location"]).text
    assert 'name="command_connect" value="on" checked' in page
    assert "Telephony command webhook saved." in page
    assert f"Commands are sent to <code>{url}</code>" in page
    assert SECRET not in page
    # a blank secret keeps the stored one
    kept = _post(harness, "/admin/acme/telephony", {"webhook_url": url + "/v2", "timeout_seconds": "3"})
    assert kept.status_code == 303, kept.text
    assert c.get(api, headers=harness.admin).json()["webhook_url"] == url + "/v2"

    removed = _post(harness, "/admin/acme/telephony", {"action": "remove", "webhook_url": url})
    assert removed.status_code == 303
    assert c.get(api, headers=harness.admin).json()["webhook_url"] is None
    actions = [e["action"] for e in c.get("/api/v1/tenants/acme/audit-log", headers=harness.admin).json()]
    assert sum(1 for a in actions if a.startswith("telephony")) == 3, actions


def test_the_chat_widget_page_sets_origins_and_pre_chat_fields(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    assert c.get("/admin/acme/chat-widget").status_code == 200
    api = "/api/v1/tenants/acme/chat/settings"
    form = {
        "widget_origins": "https://shop.example\nhttps://help.example:8443",
        "field_rows": "2",
        "field-0-name": "account_number",
        "field-0-label": "Account number",
        "field-0-required": "on",
        "field-0-max_length": "20",
        "field-1-name": "",
        "field-1-label": "",
    }
    more = _post(harness, "/admin/acme/chat-widget", {**form, "action": "add_field"})
    assert more.status_code == 200
    assert 'name="field-2-name"' in more.text  # one more empty row, nothing saved
    assert c.get(api, headers=harness.admin).json()["widget_origins"] == []

    saved = _post(harness, "/admin/acme/chat-widget", form)
    assert saved.status_code == 303, saved.text
    assert c.get(api, headers=harness.admin).json() == {
        "widget_origins": ["https://shop.example", "https://help.example:8443"],
        "form_fields": [{"name": "account_number", "label": "Account number", "required": True, "max_length": 20}],
    }
    page = c.get(saved.headers["location"]).text
    assert "Chat widget settings saved." in page
    assert 'value="account_number"' in page

    for bad, field, words in (
        ({"widget_origins": "https://shop.example/path"}, "widget_origins", ""),
        ({"field-0-name": "email"}, "form_fields.0.name", "already a field"),
        ({"field-0-name": "Account Number"}, "form_fields.0.name", ""),
    ):
        refused = _post(harness, "/admin/acme/chat-widget", {**form, **bad})
        assert refused.status_code == 422, bad
        errors = errors_of(refused.text)
        assert any(key.startswith(field) for key in errors), (bad, errors)
        assert words in " ".join(errors.values())

    # a ticked row is removed
    removed = _post(harness, "/admin/acme/chat-widget", {**form, "field-0-remove": "on"})
    assert removed.status_code == 303
    assert c.get(api, headers=harness.admin).json()["form_fields"] == []
