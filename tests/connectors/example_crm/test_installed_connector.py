"""The connector recipe, proven: a CRM connector installed as its own distribution (here from the test tree:
a package and its .dist-info with the `callbridge.connectors` entry point, put on the path) shows its settings,
its credentials and its words on the admin pages, is validated by its own models, and is offered for screen pop
and auto log, with no edit anywhere in Callbridge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.admin.conftest import csrf_of, errors_of, sign_in_page
from tests.e2e.conftest import Harness, make_harness

from callbridge.connectors.plugin import discover

SITE = Path(__file__).parent / "site"


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SITE))


@pytest.fixture
def harness(installed: None, tmp_path: Path) -> Iterator[Harness]:
    for h in make_harness(tmp_path):
        h.setup_tenant("acme")
        sign_in_page(h.client)
        yield h


def test_discovery_finds_it_typed(installed: None) -> None:
    plugins = discover()
    assert plugins["example_crm"].label == "Example CRM"
    assert {"builtin_crm", "salesforce"} <= set(plugins)


def test_its_settings_show_and_save_on_the_admin_page(harness: Harness) -> None:
    c = harness.client
    page = c.get("/admin/acme/crm")
    assert page.status_code == 200
    assert 'data-crm="example_crm"' in page.text
    assert "<h2>Example CRM</h2>" in page.text
    assert 'name="config.workspace"' in page.text
    assert "Workspace name" in page.text
    assert "Europe (Frankfurt)" in page.text
    assert 'name="credentials.client_secret" type="password"' in page.text
    assert "Create an app under Settings" in page.text

    token = csrf_of(page.text)
    refused = c.post("/admin/acme/crm/example_crm", data={"csrf_token": token, "config.region": "mars"})
    assert refused.status_code == 422
    assert errors_of(refused.text).keys() >= {"config.workspace", "config.region"}

    saved = c.post(
        "/admin/acme/crm/example_crm",
        data={
            "csrf_token": token,
            "config.workspace": "acme",
            "config.region": "us",
            "credentials.client_id": "app-1",
            "credentials.client_secret": "app-secret",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    stored = c.get("/api/v1/tenants/acme/crm-connections/example_crm", headers=harness.admin).json()
    assert stored["config"] == {"workspace": "acme", "region": "us", "request_timeout_seconds": 5.0}
    assert stored["has_credentials"] is True
    assert stored["connected"] is False

    tested = c.post("/admin/acme/crm/example_crm/test", data={"csrf_token": token})
    assert 'data-problem="ok"' in tested.text

    screen_pop = c.get("/admin/acme/screen-pop")
    assert '<option value="example_crm"' in screen_pop.text
    assert "Example CRM</option>" in screen_pop.text
