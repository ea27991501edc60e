"""Open redirects: every "go back to" parameter is normalised first, then checked, and only the normalised path
is redirected to. Callbridge's single sign-on `next` must stay inside the console (a whole path segment), the
admin sign-in's inside the admin pages, and the built-in CRM's sign-in `next` on the CRM's own site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from callbridge.web.security import local_path
from callbridge_crm import admin
from callbridge_crm.app import create_app as create_crm
from callbridge_crm.config import CrmSettings
from tests.e2e.conftest import Harness

# (what a link carried, once decoded from its query string)
LEAVING = [
    "https://evil.example/",
    "//evil.example/console",
    "/\\evil.example",
    "/\t/evil.example",  # browsers drop the tab: "//evil.example"
    "/%09/evil.example",
    "/\n/evil.example",
    "/%5c%5cevil.example",
    "javascript:alert(1)",
    "/console/..//evil.example",
    "/console/%2e%2e//evil.example",
    "/console/../admin/",
    "/console/%2e%2e/admin/",
    "/consolefoo",
    "/console.evil.example",
    "console",
    "",
]


@pytest.mark.parametrize("target", LEAVING)
def test_nothing_outside_the_section_is_a_place_to_return_to(target: str) -> None:
    assert local_path(target, "/console") is None


@pytest.mark.parametrize(
    ("target", "normalised"),
    [
        ("/console", "/console"),
        ("/console?tenant=acme&sandbox=true", "/console?tenant=acme&sandbox=true"),
        ("/console/", "/console/"),
        ("/console/./x/../", "/console/"),
        ("/console//x", "/console/x"),
        ("/console/x/..//y", "/console/y"),  # a browser would open /console//y: we send it where we checked
    ],
)
def test_a_place_inside_the_section_is_returned_normalised(target: str, normalised: str) -> None:
    assert local_path(target, "/console") == normalised


@pytest.mark.parametrize("target", [t for t in LEAVING if t])
def test_single_sign_on_refuses_to_return_anywhere_but_the_console(app_harness: Harness, target: str) -> None:
    response = app_harness.client.get("/sso/login", params={"tenant": "t1", "next": target}, follow_redirects=False)
    assert response.status_code == 400, target
    assert "does not trust" in response.text


@pytest.mark.parametrize("target", [*LEAVING, "/admin/../console", "/administrator", "/admin/..//evil.example"])
def test_the_admin_sign_in_returns_only_to_the_admin_pages(app_harness: Harness, target: str) -> None:
    form = app_harness.client.get("/admin/login", params={"next": target})
    assert form.status_code == 200
    sent_back_to = re.search(r'name="next" value="([^"]*)"', form.text)
    assert sent_back_to is not None
    assert sent_back_to.group(1) == "/admin/", target


# ------------------------------------------------------------------------------------- the built-in CRM


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    directory: Path = tmp_path_factory.mktemp("crm")
    database_url = f"sqlite:///{directory / 'crm.sqlite3'}"
    admin.create_user(database_url, email="abe@example.com", name="Abe Agent", password="correct horse battery")
    app = create_crm(CrmSettings(database_url=database_url))
    yield app.test_client()
    app.extensions["callbridge_crm"].engine.dispose()


def _sign_in(crm: FlaskClient, next_path: str) -> str:
    page = crm.get("/login", query_string={"next": next_path})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": "abe@example.com", "password": "correct horse battery", "csrf_token": token.group(1)}
    response = crm.post("/login", query_string={"next": next_path}, data=form)
    assert response.status_code == 302, response.text
    crm.post("/logout", data={"csrf_token": token.group(1)})
    return response.headers["Location"]


@pytest.mark.parametrize("target", [t for t in LEAVING if not t.startswith("/console")])
def test_the_crm_sign_in_never_sends_anyone_to_another_site(crm: FlaskClient, target: str) -> None:
    assert _sign_in(crm, target) == "/"


@pytest.mark.parametrize(
    ("target", "normalised"),
    [("/records/contact/1", "/records/contact/1"), ("/search?q=ann", "/search?q=ann"), ("/x/..//y", "/y")],
)
def test_the_crm_sign_in_returns_to_its_own_pages(crm: FlaskClient, target: str, normalised: str) -> None:
    assert _sign_in(crm, target) == normalised
