"""Cross-site request forgery: the agents' session cookie is SameSite=None, so any site can make a browser
send it. Every state-changing route of the route table is walked with that cookie from another site and must
refuse (403 `cross_site_request`) before it changes anything; the same requests from Callbridge's own pages,
and API clients with an Authorization header, are let through to the route. The console, admin pages and the
CRM-docked console are also exercised by the browser suites (tests/console, tests/admin, tests/sso)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts

from callbridge.web.app import create_app
from callbridge.web.deps import SESSION_COOKIE
from callbridge.web.security import CROSS_SITE_PREFIXES, SAFE_METHODS
from tests.e2e.conftest import Harness, make_harness

EVIL = "https://evil.example"
PUBLIC_ORIGIN = "http://127.0.0.1:8000"  # the default public URL's origin


def _state_changing_routes() -> list[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(create_app().routes):
        for method in route.methods or ():
            if method not in SAFE_METHODS:
                found.add((method, route.path))
    return sorted(found)


ROUTES = _state_changing_routes()
GUARDED = [(m, p) for m, p in ROUTES if not p.startswith(CROSS_SITE_PREFIXES)]
PUBLIC = [(m, p) for m, p in ROUTES if p.startswith(CROSS_SITE_PREFIXES)]


def _concrete(path: str) -> str:
    return re.sub(r"\{tenant_id\}", "t1", re.sub(r"\{(?!tenant_id)[^}:]+(:path)?\}", "nothing-here", path))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, str, str]]:
    """A Callbridge with tenant t1; the session tokens of agent1 and of the local admin (sent as cookies)."""
    directory: Path = tmp_path_factory.mktemp("callbridge")
    for harness in make_harness(directory):
        harness.setup_tenant("t1")
        agent = harness.sign_in("t1", "agent1")["Authorization"].removeprefix("Bearer ")
        admin = harness.admin["Authorization"].removeprefix("Bearer ")
        yield harness, agent, admin


def _cookie_for(path: str, world: tuple[Harness, str, str]) -> dict[str, str]:
    _h, agent, admin = world
    token = agent if path.startswith(("/api/v1/me", "/sso/")) else admin
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


def test_the_walk_covers_the_routes_the_issue_named() -> None:
    named = {
        ("POST", "/sso/logout"),
        ("POST", "/api/v1/me/sign-out"),
        ("POST", "/api/v1/me/offers/{interaction_id}/accept"),
        ("POST", "/api/v1/me/offers/{interaction_id}/reject"),
        ("POST", "/api/v1/me/interactions/{interaction_id}/hold"),
        ("POST", "/api/v1/me/interactions/{interaction_id}/resume"),
        ("POST", "/api/v1/realtime/tickets"),
        ("POST", "/api/v1/tenants/{tenant_id}/reports/rebuild"),
        ("POST", "/api/v1/tenants/{tenant_id}/auto-log/{interaction_id}/retry"),
    }
    assert named <= set(GUARDED)
    assert len(GUARDED) > 60
    assert PUBLIC == [("POST", "/chat/v1/{tenant_id}/conversations")]


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize(
    "proof",
    [{"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://testserver:8080"}],
    ids=["foreign-origin", "null-origin", "cross-site-fetch", "another-port"],
)
def test_a_cross_site_request_with_the_cookie_is_refused_before_the_route(
    world: tuple[Harness, str, str], method: str, path: str, proof: dict[str, str]
) -> None:
    client = world[0].client
    response = client.request(method, _concrete(path), headers={**_cookie_for(path, world), **proof})
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "cross_site_request"


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize(
    "proof",
    [{"Origin": PUBLIC_ORIGIN}, {"Origin": "http://testserver"}, {"Sec-Fetch-Site": "same-origin"}, {}],
    ids=["public-origin", "same-host", "same-origin-fetch", "no-browser"],
)
def test_the_same_request_from_a_callbridge_page_reaches_the_route(
    world: tuple[Harness, str, str], method: str, path: str, proof: dict[str, str]
) -> None:
    if (method, path) in (("POST", "/sso/logout"), ("POST", "/api/v1/me/sign-out"), ("POST", "/admin/logout")):
        pytest.skip("signs the shared session out: see test_sign_out_from_another_site_changes_nothing")
    client = world[0].client
    response = client.request(method, _concrete(path), headers={**_cookie_for(path, world), **proof})
    assert not (response.status_code == 403 and "cross_site_request" in response.text), response.text


def test_api_clients_with_a_bearer_token_are_not_browsers(world: tuple[Harness, str, str]) -> None:
    harness = world[0]
    response = harness.client.post("/api/v1/realtime/tickets", headers={**harness.admin, "Origin": EVIL})
    assert response.status_code != 403 or "cross_site_request" not in response.text


def test_sign_out_from_another_site_changes_nothing(tmp_path: Path) -> None:
    for harness in make_harness(tmp_path):
        harness.setup_tenant("t1")
        token = harness.sign_in("t1", "agent1")["Authorization"].removeprefix("Bearer ")
        cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
        for path in ("/api/v1/me/sign-out", "/sso/logout"):
            refused = harness.client.post(path, headers={**cookie, "Origin": EVIL})
            assert refused.status_code == 403
        still = harness.client.get("/api/v1/me", headers=cookie)
        assert still.status_code == 200
        assert still.json()["me"] == "agent1"
        assert harness.client.post("/sso/logout", headers={**cookie, "Origin": PUBLIC_ORIGIN}).status_code == 204
        assert harness.client.get("/api/v1/me", headers=cookie).status_code == 401
