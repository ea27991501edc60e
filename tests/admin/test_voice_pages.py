"""The voice numbers page, with voice off (no engines): an admin prepares numbers before voice runs."""

from __future__ import annotations

from typing import Any

from tests.admin.conftest import csrf_of, errors_of, sign_in_page
from tests.e2e.conftest import Harness


def _post(h: Harness, form: dict[str, Any]) -> Any:
    token = csrf_of(h.client.get("/admin/acme/voice").text)
    return h.client.post("/admin/acme/voice", data={**form, "csrf_token": token}, follow_redirects=False)


def test_the_voice_page_adds_changes_and_removes_numbers_as_the_api_does(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    page = c.get("/admin/acme/voice")
    assert page.status_code == 200
    assert 'href="/admin/acme/voice"' in page.text  # in the admin's sections
    assert "Voice is off on this server" in page.text
    assert "data-voice-status" in page.text
    assert "CALLBRIDGE_VOICE_ENABLED" in page.text
    api = "/api/v1/tenants/acme/voice/numbers"

    refused = _post(harness, {"number": "14155550100", "queue_id": "sales"})
    assert refused.status_code == 422
    assert "E.164" in errors_of(refused.text)["number"]
    refused = _post(harness, {"number": "+14155550100", "queue_id": "nowhere"})
    assert refused.status_code == 422
    assert "queue_id" in errors_of(refused.text)
    refused = _post(harness, {"number": "", "queue_id": "sales"})
    assert "Enter the dialled number" in errors_of(refused.text)["number"]
    assert c.get(api, headers=harness.admin).json() == []  # nothing was saved

    saved = _post(harness, {"number": "+14155550100", "queue_id": "sales"})
    assert saved.status_code == 303, saved.text
    assert c.get(api, headers=harness.admin).json() == [
        {"number": "+14155550100", "queue_id": "sales", "greeting_id": None, "menu": None}
    ]
    page = c.get(saved.headers["location"]).text
    assert "Number saved" in page
    assert 'data-number="+14155550100"' in page

    token = csrf_of(page)
    removed = c.post(
        "/admin/acme/voice",
        data={"action": "remove", "number": "+14155550100", "csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert c.get(api, headers=harness.admin).json() == []
    gone = _post(harness, {"action": "remove", "number": "+14155550100"})
    assert gone.status_code == 422
    assert "No number" in errors_of(gone.text)["form"]
    actions = [e["action"] for e in c.get("/api/v1/tenants/acme/audit-log", headers=harness.admin).json()]
    assert sum(1 for a in actions if "number" in a) == 2, actions


def test_the_voice_page_refuses_a_post_without_the_form_token(harness: Harness) -> None:
    sign_in_page(harness.client)
    harness.client.get("/admin/acme/voice")
    response = harness.client.post(
        "/admin/acme/voice", data={"number": "+14155550100", "queue_id": "sales"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert harness.client.get("/api/v1/tenants/acme/voice/numbers", headers=harness.admin).json() == []


def test_the_voice_page_sets_and_removes_an_agents_desk_phone_and_never_shows_the_password(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    api = "/api/v1/tenants/acme/voice/desk-phones"
    password = "desk-phone-secret-1"  # noqa: S105 (a test secret)

    def post(form: dict[str, Any]) -> Any:
        token = csrf_of(c.get("/admin/acme/voice").text)
        return c.post("/admin/acme/voice/desk-phones", data={**form, "csrf_token": token}, follow_redirects=False)

    short = post({"agent_id": "agent1", "username": "acme-a1", "password": "short"})
    assert short.status_code == 422
    assert "password" in errors_of(short.text)
    numbers_form = short.text.split("data-number-form")[1].split("</form>")[0]
    assert "Nothing was saved" not in numbers_form  # the banner is on the desk phone's form
    assert "Nothing was saved" in short.text.split("data-desk-phone-form")[1]
    nobody = post({"agent_id": "nobody", "username": "acme-x", "password": password})
    assert nobody.status_code == 422
    assert "agent_id" in errors_of(nobody.text)
    assert c.get(api, headers=harness.admin).json() == []

    saved = post({"agent_id": "agent1", "username": "acme-a1", "password": password})
    assert saved.status_code == 303, saved.text
    assert [p["username"] for p in c.get(api, headers=harness.admin).json()] == ["acme-a1"]
    page = c.get(saved.headers["location"]).text
    assert "Desk phone saved" in page
    assert 'data-desk-phone="agent1"' in page
    assert password not in page

    assert post({"action": "remove", "agent_id": "agent1"}).status_code == 303
    assert c.get(api, headers=harness.admin).json() == []
    assert "no desk phone" in errors_of(post({"action": "remove", "agent_id": "agent1"}).text)["form"]
    actions = [e["action"] for e in c.get("/api/v1/tenants/acme/audit-log", headers=harness.admin).json()]
    assert sum(1 for a in actions if "desk" in a) == 2, actions


def test_the_voice_page_gives_a_number_a_menu_refuses_bad_keys_by_field_and_removes_it(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    admin = harness.admin
    queue = {"id": "billing", "name": "Billing", "channel": "phone"}
    assert c.post("/api/v1/tenants/acme/queues", json=queue, headers=admin).status_code == 201
    assert _post(harness, {"number": "+14155550100", "queue_id": "sales"}).status_code == 303
    menu_api = "/api/v1/tenants/acme/voice/numbers/+14155550100/menu"

    def post(form: dict[str, Any]) -> Any:
        token = csrf_of(c.get("/admin/acme/voice").text)
        return c.post("/admin/acme/voice/menus", data={**form, "csrf_token": token}, follow_redirects=False)

    good = {"number": "+14155550100", "key_1": "sales", "key_hash": "billing", "attempts": "2", "wait_seconds": "4"}
    refusals = {
        "key_hash": {**good, "key_hash": "nowhere"},
        "attempts": {**good, "attempts": "9"},
        "wait_seconds": {**good, "wait_seconds": "soon"},
        "menu_greeting_id": {**good, "menu_greeting_id": "no-such-greeting"},
        "menu_number": {**good, "number": "+14155550199"},
        "form": {"number": "+14155550100", "attempts": "3", "wait_seconds": "5"},
    }
    for field, form in refusals.items():
        refused = post(form)
        assert refused.status_code == 422, field
        assert field in errors_of(refused.text), (field, errors_of(refused.text))
        assert "Nothing was saved" in refused.text.split("data-menu-form")[1] or field == "form"
        assert c.get(menu_api, headers=admin).status_code == 404  # nothing was saved

    saved = post(good)
    assert saved.status_code == 303, saved.text
    assert c.get(menu_api, headers=admin).json() == {
        "options": [{"digit": "1", "queue_id": "sales"}, {"digit": "#", "queue_id": "billing"}],
        "greeting_id": None,
        "attempts": 2,
        "wait_seconds": 4,
        "default_queue_id": "sales",
    }
    page = c.get(saved.headers["location"]).text
    assert "Menu saved" in page
    assert "1 → sales, # → billing" in page.split('data-menu-of="+14155550100"')[1]

    assert post({"action": "remove", "number": "+14155550100"}).status_code == 303
    assert c.get(menu_api, headers=admin).status_code == 404
    assert "no menu to remove" in errors_of(post({"action": "remove", "number": "+14155550100"}).text)["form"]
    actions = [e["action"] for e in c.get("/api/v1/tenants/acme/audit-log", headers=admin).json()]
    assert {"voice_menu.set", "voice_menu.deleted"} <= set(actions)
