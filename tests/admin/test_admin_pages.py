"""Admin pages over HTTP: every page refuses anyone but an admin of the tenant, every form needs its CSRF
token, and forms accept and refuse what the REST API does, saying what is wrong next to the field."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from callbridge.web.deps import SESSION_COOKIE
from callbridge.web.pages.admin import ROUTERS
from tests.admin.conftest import agent_session, csrf_of, errors_of, make_admin, sign_in_page
from tests.e2e.conftest import Harness


def admin_routes() -> list[tuple[str, str]]:
    """(method, path) of every admin page of a tenant, with sample path parameters."""
    found = []
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIRoute) and route.path.startswith("/admin/{tenant_id}"):
            path = route.path.replace("{tenant_id}", "acme")
            path = re.sub(r"\{[a-z_]+\}", "sales", path)
            found += [(method, path) for method in sorted(route.methods)]
    assert len(found) > 20, found
    return found


def test_every_admin_page_refuses_anyone_but_an_admin_of_the_tenant(pages: Harness) -> None:
    h, c = pages, pages.client
    routes = admin_routes()
    make_admin(h, "globex", "agent1")
    cookies = {
        "agent": agent_session(h, "acme", "agent1"),
        "other_tenant_admin": agent_session(h, "globex", "agent1"),
        "api_key": h.api_key("acme")["Authorization"].removeprefix("Bearer "),
    }
    for method, path in routes:
        c.cookies.clear()
        anonymous = c.request(method, path, follow_redirects=False)
        assert anonymous.status_code == 303, (method, path)
        assert anonymous.headers["location"].startswith("/admin/login?next=")
        c.cookies.set(SESSION_COOKIE, cookies["api_key"])  # an API key is for machines, not for the pages
        assert c.request(method, path, follow_redirects=False).status_code == 303, (method, path)
        c.cookies.set(SESSION_COOKIE, cookies["agent"])
        refused = c.request(method, path, follow_redirects=False)
        assert refused.status_code == 403, (method, path)
        assert "Only an admin of this tenant" in refused.text
        c.cookies.set(SESSION_COOKIE, cookies["other_tenant_admin"])
        assert c.request(method, path, follow_redirects=False).status_code == 404, (method, path)
    c.cookies.set(SESSION_COOKIE, cookies["agent"])
    assert c.get("/admin/", follow_redirects=False).status_code == 403
    assert c.post("/admin/", data={"id": "x"}, follow_redirects=False).status_code == 403


def test_an_agent_admin_goes_straight_to_their_tenant_and_cannot_create_tenants(pages: Harness) -> None:
    h, c = pages, pages.client
    make_admin(h, "acme", "agent2")
    c.cookies.set(SESSION_COOKIE, agent_session(h, "acme", "agent2"))
    response = c.get("/admin/", follow_redirects=False)
    assert response.headers["location"] == "/admin/acme/"
    page = c.get("/admin/acme/")
    assert page.status_code == 200
    assert "agent2@acme.example" in page.text
    refused = c.post("/admin/", data={"csrf_token": csrf_of(page.text), "id": "x", "name": "X"})
    assert refused.status_code == 403


def test_sign_in_needs_its_csrf_token_and_the_right_password(pages: Harness) -> None:
    c = pages.client
    form = c.get("/admin/login?next=/admin/acme/agents")
    token = csrf_of(form.text)
    data = {"csrf_token": token, "email": "root@example.com", "password": "wrong", "next": "/admin/acme/agents"}
    assert c.post("/admin/login", data={**data, "csrf_token": "forged"}).status_code == 403
    wrong = c.post("/admin/login", data=data)
    assert wrong.status_code == 401
    assert "Wrong e-mail or password" in wrong.text
    assert SESSION_COOKIE not in c.cookies
    good = c.post("/admin/login", data={**data, "password": "correct horse battery"}, follow_redirects=False)
    assert good.headers["location"] == "/admin/acme/agents"
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    # never redirected off the admin pages
    c.cookies.clear()
    form = c.get("/admin/login")
    evil = {**data, "csrf_token": csrf_of(form.text), "password": "correct horse battery", "next": "//evil.example/"}
    assert c.post("/admin/login", data=evil, follow_redirects=False).headers["location"] == "/admin/"


def test_forms_need_the_session_csrf_token_and_the_same_origin(pages: Harness) -> None:
    c = pages.client
    sign_in_page(c)
    token = csrf_of(c.get("/admin/acme/").text)
    data = {"name": "Hacked", "time_zone": "UTC", "phone_region": "US", "allowed_origins": ""}
    assert c.post("/admin/acme/", data=data).status_code == 403
    assert c.post("/admin/acme/", data={**data, "csrf_token": "0" * 64}).status_code == 403
    cross = c.post("/admin/acme/", data={**data, "csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert c.get("/api/v1/tenants/acme", headers=pages.admin).json()["name"] == "Acme"
    ok = c.post("/admin/acme/", data={**data, "csrf_token": token, "name": "Acme"}, follow_redirects=False)
    assert ok.status_code == 303


BAD_INPUT: list[tuple[str, dict[str, str], str, str]] = [
    ("/admin/acme/", {"name": "", "time_zone": "UTC", "phone_region": "US"}, "name", "at least 1 character"),
    ("/admin/acme/", {"name": "A", "time_zone": "Mars/Olympus", "phone_region": "US"}, "time_zone", "IANA"),
    ("/admin/acme/", {"name": "A", "time_zone": "UTC", "phone_region": "ZZ"}, "phone_region", "two-letter"),
    (
        "/admin/acme/",
        {"name": "A", "time_zone": "UTC", "phone_region": "US", "allowed_origins": "https://a.example/path"},
        "allowed_origins",
        "'https://a.example/path' must be an origin",
    ),
    ("/admin/acme/skills", {"name": "Billing Team"}, "name", "lower-case"),
    ("/admin/acme/skills", {"name": "billing"}, "name", "already exists"),
    ("/admin/acme/queues/new", {"id": "q", "name": "Q", "channel": "fax"}, "channel", "phone"),
    (
        "/admin/acme/queues/new",
        {"id": "q", "name": "Q", "channel": "phone", "offer_timeout_seconds": "2"},
        "offer_timeout_seconds",
        "greater than or equal to 5",
    ),
    ("/admin/acme/queues/new", {"id": "sales", "name": "Q", "channel": "phone"}, "id", "already exists"),
    ("/admin/acme/agents/new", {"id": "x", "email": "x", "display_name": "X", "roles": "agent"}, "email", "e-mail"),
    ("/admin/acme/agents/new", {"id": "x", "email": "x@a.example", "display_name": "X"}, "roles", "at least one"),
    (
        "/admin/acme/agents/new",
        {"id": "x", "email": "x@a.example", "display_name": "X", "roles": "agent", "capacity:phone": "2"},
        "capacity",
        "one call at a time",
    ),
    (
        "/admin/acme/agents/new",
        {"id": "agent1", "email": "x@a.example", "display_name": "X", "roles": "agent"},
        "id",
        "already exists",
    ),
    (
        "/admin/acme/agents/new",
        {"id": "x", "email": "x@a.example", "display_name": "X", "roles": "agent", "queue_ids": "nope"},
        "queue_ids",
        "unknown queue",
    ),
    ("/admin/acme/api-keys", {"name": ""}, "name", "at least 1 character"),
]


def test_bad_input_is_refused_next_to_its_field_and_nothing_changes(pages: Harness) -> None:
    c = pages.client
    sign_in_page(c)
    token = csrf_of(c.get("/admin/acme/").text)
    audit_before = c.get("/api/v1/tenants/acme/audit-log", headers=pages.admin).json()
    for path, form, field, words in BAD_INPUT:
        response = c.post(path, data={**form, "csrf_token": token})
        assert response.status_code == 422, (path, form, response.text)
        errors = errors_of(response.text)
        assert words in errors.get(field, ""), (path, form, errors)
    assert c.get("/api/v1/tenants/acme/audit-log", headers=pages.admin).json() == audit_before


def test_the_call_center_file_has_the_tenant_adapter_url_and_sizes(pages: Harness) -> None:
    c = pages.client
    sign_in_page(c)
    query = {
        "adapter_url": "https://cb.example.com/console",
        "sandbox": "on",
        "compatibility": "Classic_and_Lightning",
        "softphone_width": "350",
        "softphone_height": "700",
    }
    response = c.get("/admin/acme/call-center/definition.xml", params=query)
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    xml = response.text
    assert '<item sortOrder="2" name="reqAdapterUrl" label="CTI Adapter URL">' in xml
    assert "https://cb.example.com/console?tenant=acme&amp;sandbox=true" in xml
    assert ">Classic_and_Lightning<" in xml
    assert ">350<" in xml
    assert ">700<" in xml
    bad = c.get("/admin/acme/call-center/definition.xml", params={**query, "adapter_url": "http://cb.example.com/"})
    assert bad.status_code == 422
    assert "https://" in errors_of(bad.text)["adapter_url"]
    small = c.get("/admin/acme/call-center/definition.xml", params={**query, "softphone_width": "20"})
    assert "greater than or equal to 100" in errors_of(small.text)["softphone_width"]


def test_integration_pages_single_sign_on_crm_auto_log_and_crm_users(pages: Harness) -> None:
    c = pages.client
    sign_in_page(c)
    sso = c.get("/admin/acme/sso")
    assert "/sso/login?tenant=acme</code>" in sso.text
    assert "sandbox=true" not in sso.text, "no Salesforce sandbox while the built-in CRM is the provider"
    token = csrf_of(sso.text)
    bad = c.post("/admin/acme/sso", data={"csrf_token": token, "kind": "salesforce", "client_id": ""})
    assert bad.status_code == 422
    assert "at least 1 character" in errors_of(bad.text)["client_id"]
    good = {"csrf_token": token, "kind": "salesforce", "client_id": "3MVG9", "client_secret": "s3cr3t-value"}
    assert c.post("/admin/acme/sso", data=good, follow_redirects=False).status_code == 303
    assert "/sso/login?tenant=acme&amp;sandbox=true" in c.get("/admin/acme/sso").text
    entry = c.get("/api/v1/tenants/acme/audit-log", params={"target_type": "sso"}, headers=pages.admin).json()[0]
    assert entry["action"] == "sso.created"
    assert entry["changes"]["client_id"]["after"] == "3MVG9"
    assert "s3cr3t-value" not in str(entry)
    assert "3MVG9" in c.get("/admin/acme/sso").text

    crm = c.get("/admin/acme/crm")
    assert crm.status_code == 200
    tested = c.post("/admin/acme/crm/builtin_crm/test", data={"csrf_token": token})
    assert 'data-problem="not_configured"' in tested.text
    assert c.get("/admin/acme/screen-pop").status_code == 200
    assert "data-empty" in c.get("/admin/acme/auto-log").text
    missing = c.post("/admin/acme/auto-log/nope/retry", data={"csrf_token": token})
    assert missing.status_code == 404
    users = c.get("/admin/acme/agents/crm-users")
    assert "set it up under CRM connection first" in errors_of(users.text)["crm"]


def test_the_queue_page_sets_the_wrap_up_dispositions_and_whether_one_is_required(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    form = c.get("/admin/acme/queues/support")
    assert "Dispositions (one per line)" in form.text
    fields = {"csrf_token": csrf_of(form.text), "name": "Support", "channel": "chat", "offer_timeout_seconds": "20"}
    twice = c.post("/admin/acme/queues/support", data={**fields, "dispositions": "Sold\nsold"})
    assert twice.status_code == 422
    assert "each disposition once" in errors_of(twice.text)["dispositions"]
    lines = "Sold\n\n  Call back later \nNot interested"
    saved = c.post(
        "/admin/acme/queues/support",
        data={**fields, "dispositions": lines, "disposition_required": "on"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    api = c.get("/api/v1/tenants/acme/queues/support", headers=harness.admin).json()
    assert api["dispositions"] == ["Sold", "Call back later", "Not interested"]
    assert api["disposition_required"] is True
    again = c.get("/admin/acme/queues/support").text
    assert "Sold\nCall back later\nNot interested</textarea>" in again
    assert "checked" in again.split('name="disposition_required"')[1][:40]
    row = re.search(r'<tr data-queue="support">(.*?)</tr>', c.get("/admin/acme/queues").text, re.S)
    assert row
    assert "Sold, Call back later, Not interested (required)" in row.group(1)


def test_the_queue_page_shows_and_saves_whether_agents_in_wrap_up_are_offered_work(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    form = c.get("/admin/acme/queues/support")
    box = form.text.split('name="offer_during_wrap_up"')[1][:40]
    assert "checked" not in box  # off by default
    assert "agents in wrap-up" in form.text
    fields = {"csrf_token": csrf_of(form.text), "name": "Support", "channel": "chat", "offer_timeout_seconds": "20"}
    saved = c.post("/admin/acme/queues/support", data={**fields, "offer_during_wrap_up": "on"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    api = c.get("/api/v1/tenants/acme/queues/support", headers=harness.admin).json()
    assert api["offer_during_wrap_up"] is True
    listing = c.get("/admin/acme/queues").text
    row = re.search(r'<tr data-queue="support">(.*?)</tr>', listing, re.S)
    assert row
    assert "<td>yes</td>" in row.group(1)
    assert "checked" in c.get("/admin/acme/queues/support").text.split('name="offer_during_wrap_up"')[1][:40]
    c.post("/admin/acme/queues/support", data=fields, follow_redirects=False)
    assert c.get("/api/v1/tenants/acme/queues/support", headers=harness.admin).json()["offer_during_wrap_up"] is False


def test_the_console_texts_page_sets_notes_templates_and_quick_replies_that_agents_read(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    form = c.get("/admin/acme/console-texts")
    assert form.status_code == 200
    assert "Notes templates (one per line)" in form.text
    fields = {"csrf_token": csrf_of(form.text)}
    twice = c.post("/admin/acme/console-texts", data={**fields, "quick_replies": "Hello\nHello"})
    assert twice.status_code == 422
    assert "give each text once" in errors_of(twice.text)["quick_replies"]
    long = c.post("/admin/acme/console-texts", data={**fields, "notes_templates": "x" * 2001})
    assert long.status_code == 422
    assert "notes_templates" in errors_of(long.text) or "notes_templates.0" in errors_of(long.text)
    saved = c.post(
        "/admin/acme/console-texts",
        data={**fields, "notes_templates": "Called back.\n\nSent a quote.", "quick_replies": "One moment please."},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    page = c.get(saved.headers["location"]).text
    assert "Console texts saved" in page
    assert "Called back.\nSent a quote.</textarea>" in page
    agent = harness.sign_in("acme", "agent1")
    mine = c.get("/api/v1/me/console-texts", headers=agent).json()
    assert mine == {"notes_templates": ["Called back.", "Sent a quote."], "quick_replies": ["One moment please."]}
    assert c.put("/api/v1/tenants/acme/console-texts", json={}, headers=agent).status_code == 403
    assert c.get("/api/v1/tenants/acme/console-texts", headers=harness.admin).json() == mine
    audit = c.get("/api/v1/tenants/acme/audit-log", params={"target_type": "tenant"}, headers=harness.admin).json()
    assert any(e["action"] == "console_texts.updated" for e in audit)


def test_the_agent_page_chooses_whether_calls_ring_the_browser_or_the_desk_phone(harness: Harness) -> None:
    c = harness.client
    sign_in_page(c)
    form = c.get("/admin/acme/agents/agent1")
    assert "Phone calls ring" in form.text
    assert re.search(r'value="browser" checked', form.text)  # no desk phone: the browser by default
    agent = c.get("/api/v1/tenants/acme/agents/agent1", headers=harness.admin).json()
    fields: dict[str, object] = {
        "csrf_token": csrf_of(form.text),
        "email": agent["email"],
        "display_name": agent["display_name"],
        "roles": agent["roles"],
        "queue_ids": agent["queue_ids"],
        "enabled": "on",
        **{f"capacity:{channel}": str(n) for channel, n in agent["capacity"].items()},
        **{f"skill:{name}": str(level) for name, level in agent["skills"].items()},
    }
    saved = c.post("/admin/acme/agents/agent1", data={**fields, "rings": "desk"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    phone = c.get("/api/v1/tenants/acme/voice/phones/agent1", headers=harness.admin).json()
    assert phone["rings"] == "desk"
    assert phone["chosen"] is True
    assert re.search(r'value="desk" checked', c.get("/admin/acme/agents/agent1").text)
    refused = c.post("/admin/acme/agents/agent1", data={**fields, "rings": "fax"}, follow_redirects=False)
    assert refused.status_code == 422
    assert "rings" in errors_of(refused.text)


def test_a_single_node_says_it_routes_every_tenant_and_how_to_run_several(pages: Harness) -> None:
    c = pages.client
    sign_in_page(c)

    page = c.get("/admin/")

    assert page.status_code == 200
    assert "Callbridge runs as one node here" in page.text
    assert "docs/deploy.md" in page.text
