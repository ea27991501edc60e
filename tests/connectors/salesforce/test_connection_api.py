"""An admin connects a tenant to Salesforce through the API; the org is the REST and OAuth stand-in,
reached through the HTTP client the CRM connections use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from salesforce_standin.rest_api import CLIENT_ID, CLIENT_SECRET, INSTANCE_URL, REFRESH_TOKEN, SalesforceRestStandin
from sqlalchemy import select
from tests.e2e.conftest import Harness, make_harness

from callbridge.store.crm_tables import crm_connections

URL = "/api/v1/tenants/acme/crm-connections/salesforce"
CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}


@pytest.fixture
def org() -> SalesforceRestStandin:
    return SalesforceRestStandin(valid_tokens=set())


@pytest.fixture
def harness(tmp_path: Path, org: SalesforceRestStandin) -> Iterator[Harness]:
    for harness in make_harness(tmp_path):
        response = harness.client.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=harness.admin)
        assert response.status_code == 201, response.text
        connections = harness.client.app.state.crm_integration.connections  # type: ignore[attr-defined]
        connections.http = httpx.AsyncClient(transport=org.transport())
        yield harness
        harness.run(connections.http.aclose())


def test_an_admin_connects_salesforce_and_reads_a_precise_problem(harness: Harness, org: SalesforceRestStandin) -> None:
    c, h = harness.client, harness.admin
    config = {"instance_url": INSTANCE_URL, "environment": "sandbox", "activity_key_mode": "external_id"}

    put = c.put(URL, json={"config": config, "credentials": CREDENTIALS}, headers=h)

    assert put.status_code == 200, put.text
    assert put.json()["has_credentials"] is True
    assert put.json()["config"] == config
    for secret in (CLIENT_SECRET, REFRESH_TOKEN):
        assert secret not in put.text
        assert secret not in c.get(URL, headers=h).text
    with harness.services.engine.connect() as connection:
        stored = connection.execute(select(crm_connections.c.secrets)).scalar_one()
    assert REFRESH_TOKEN not in stored
    assert CLIENT_SECRET not in stored

    org.api_disabled = True
    problems = c.get(f"{URL}/problems", headers=h)

    assert problems.status_code == 200, problems.text
    assert [p["code"] for p in problems.json()] == ["api_disabled"]
    assert '"API Enabled"' in problems.json()[0]["message"]
    assert [str(r.url) for r in org.token_requests] == ["https://test.salesforce.com/services/oauth2/token"]

    org.api_disabled = False
    assert c.get(f"{URL}/problems", headers=h).json() == []


def test_a_revoked_refresh_token_is_reported_to_the_admin(harness: Harness, org: SalesforceRestStandin) -> None:
    c, h = harness.client, harness.admin
    org.refresh_tokens.clear()
    assert c.put(URL, json={"config": {"instance_url": INSTANCE_URL}, "credentials": CREDENTIALS}, headers=h).is_success

    problems = c.get(f"{URL}/problems", headers=h).json()

    assert [p["code"] for p in problems] == ["bad_credentials"]
    assert "invalid_grant" in problems[0]["message"]
    assert "login.salesforce.com" in problems[0]["message"]


def test_invalid_settings_are_refused_naming_the_field(harness: Harness) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        (
            {"config": {"instance_url": "http://acme.my.salesforce.com"}, "credentials": CREDENTIALS},
            "config.instance_url",
        ),
        ({"config": {"instance_url": INSTANCE_URL, "api_version": "v62"}}, "config.api_version"),
        ({"config": {"instance_url": INSTANCE_URL, "login_url": INSTANCE_URL}}, "config.login_url"),
        (
            {"config": {"instance_url": INSTANCE_URL}, "credentials": {**CREDENTIALS, "client_id": " "}},
            "credentials.client_id",
        ),
    ]
    for body, field in cases:
        response = harness.client.put(URL, json=body, headers=harness.admin)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
    assert harness.client.get(URL, headers=harness.admin).status_code == 404
