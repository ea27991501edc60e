"""Admin pages: an in-process Callbridge with one tenant, and helpers to sign in and post forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from callbridge.auth.credentials import create_session
from tests.e2e.conftest import Harness, make_harness, running_server

ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "correct horse battery"  # noqa: S105 (a test password)


def _two_tenants(tmp_path: Path) -> Iterator[Harness]:
    for h in make_harness(tmp_path):
        h.setup_tenant("acme")
        h.setup_tenant("globex", agents=1)
        yield h


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """Two tenants (acme: two agents, globex: one), for a test that changes them."""
    yield from _two_tenants(tmp_path)


@pytest.fixture(scope="module")
def shared_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """The same, shared by a module's tests: each starts signed out and leaves the data as it found it."""
    yield from _two_tenants(tmp_path_factory.mktemp("admin"))


@pytest.fixture
def pages(shared_harness: Harness) -> Harness:
    shared_harness.client.cookies.clear()
    return shared_harness


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def errors_of(html: str) -> dict[str, str]:
    found = re.findall(r'data-error-for="([^"]+)"[^>]*>\s*([^<]+?)\s*<', html)
    return {field: unescape(message) for field, message in found}


def sign_in_page(client: TestClient) -> None:
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={"csrf_token": csrf_of(page.text), "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/admin/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def agent_session(h: Harness, tenant_id: str, agent_id: str) -> str:
    svc = h.services
    return create_session(svc.engine, "agent", agent_id, tenant_id, svc.clock.now())


def make_admin(h: Harness, tenant_id: str, agent_id: str) -> None:
    body = h.client.get(f"/api/v1/tenants/{tenant_id}/agents/{agent_id}", headers=h.admin).json()
    for key in ("status", "status_reason", "status_since", "id"):
        body.pop(key)
    body["roles"] = ["agent", "admin"]
    response = h.client.put(f"/api/v1/tenants/{tenant_id}/agents/{agent_id}", json=body, headers=h.admin)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    """A served Callbridge with tenant acme, for browser tests of the admin pages; yields its base URL."""
    folder = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with running_server(folder, ADMIN_EMAIL, ADMIN_PASSWORD) as base:
        token = httpx.post(
            f"{base}/api/v1/auth/admin-sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{base}/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=headers).is_success
        yield base
