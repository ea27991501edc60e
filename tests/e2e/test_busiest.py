"""The busiest routes (callbridge.web.api.busiest) answer exactly as their FastAPI declarations do: the same
statuses, bodies and headers for every kind of bad request, the same work for good ones, the same OpenAPI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import Route

from callbridge.web.api import busiest
from tests.e2e.conftest import Harness, make_harness
from tests.e2e.test_api_admin import new_tenant, tenant_state


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from make_harness(tmp_path_factory.mktemp("busiest"), heartbeat_timeout_seconds=3600)


def _busiest(route: Any) -> bool:
    return isinstance(route, Route) and any(route.endpoint is endpoint for _path, endpoint in busiest.ROUTES)


@contextlib.contextmanager
def fastapi_only(h: Harness) -> Iterator[None]:
    """The app as it would be without the busiest routes: their FastAPI declarations serve them."""
    routes = h.client.app.router.routes  # type: ignore[attr-defined]
    taken = [r for r in routes if _busiest(r)]
    routes[:] = [r for r in routes if not _busiest(r)]
    try:
        yield
    finally:
        routes[:0] = taken


def _answer(response: Any) -> tuple[Any, ...]:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
    try:
        body = response.json()
    except ValueError:
        body = response.content
    return response.status_code, body, headers


def test_they_are_matched_first_and_left_out_of_the_openapi_document(h: Harness) -> None:
    routes = h.client.app.router.routes  # type: ignore[attr-defined]
    assert [r.path for r in routes[: len(busiest.ROUTES)] if _busiest(r)] == [p for p, _e in busiest.ROUTES]
    with_them = h.client.get("/openapi.json").json()
    h.client.app.openapi_schema = None  # type: ignore[attr-defined]
    with fastapi_only(h):
        without = h.client.get("/openapi.json").json()
    assert with_them == without
    for path, _endpoint in busiest.ROUTES:
        assert "post" in with_them["paths"][path]


def _bad_requests(pbx: dict[str, str], agent: dict[str, str], offered: str) -> list[tuple[str, str, dict[str, Any]]]:
    json_type = {"Content-Type": "application/json"}
    create, accept, complete = (
        "/api/v1/interactions",
        f"/api/v1/me/offers/{offered}/accept",
        f"/api/v1/me/interactions/{offered}/complete",
    )
    good_create = {"queue_id": "sales", "channel": "phone"}
    cases: list[tuple[str, str, dict[str, Any]]] = []
    # accept reads no body: the agent's own offer would be accepted, so it is asked about one that is not there
    for path, who, other in (
        (create, pbx, agent),
        ("/api/v1/me/offers/nosuch/accept", agent, pbx),
        (complete, agent, pbx),
    ):
        body = good_create if path == create else {}
        cases += [
            ("POST", path, {"json": body}),  # no credential
            ("POST", path, {"json": body, "headers": {"Authorization": "Bearer cbs_forged"}}),
            ("POST", path, {"json": body, "headers": {"Authorization": "Basic abc"}}),
            ("POST", path, {"json": body, "headers": {"Authorization": "Bearer"}}),
            ("POST", path, {"json": body, "headers": other}),  # the wrong role
            ("GET", path, {"headers": who}),  # the wrong method
        ]
        for content in (b'{"reason": ', b"[]", b"null", b"\xff", b"", b'{"x": 1}', b'"text"'):
            cases.append(("POST", path, {"content": content, "headers": {**who, **json_type}}))
            cases.append(("POST", path, {"content": content, "headers": {**other, **json_type}}))
        cases.append(("POST", path, {"content": b"disposition=x", "headers": {**who, "Content-Type": "text/plain"}}))
        cases.append(("POST", path, {"content": b'{"disposition": "x"}', "headers": who}))  # no content type
    cases += [
        ("POST", create, {"json": {"queue_id": "nowhere", "channel": "phone"}, "headers": pbx}),
        ("POST", create, {"json": {"queue_id": "sales", "channel": "fax", "priority": 101}, "headers": pbx}),
        ("POST", create, {"json": {**good_create, "id": offered}, "headers": pbx}),  # taken
        ("POST", create, {"json": {**good_create, "data": {"k": "v" * 1001}}, "headers": pbx}),
        ("POST", accept, {"headers": pbx}),
        ("POST", accept, {}),
        ("POST", complete, {"json": {"notes": "n" * 32001}, "headers": agent}),
        ("POST", complete, {"json": {"disposition": "done"}, "headers": agent}),  # not connected yet
        ("POST", "/api/v1/me/interactions/nosuch/complete", {"json": {}, "headers": agent}),
    ]
    return cases


def test_bad_requests_are_answered_alike_and_change_nothing(h: Harness) -> None:
    t = new_tenant(h)
    agent, pbx = h.sign_in(t, "agent1"), h.api_key(t)
    assert h.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
    created = h.client.post(
        "/api/v1/interactions", json={"id": "c1", "queue_id": "sales", "channel": "phone"}, headers=pbx
    )
    assert created.status_code == 201, created.text
    assert created.json()["agent_id"] == "agent1", created.text
    before = tenant_state(h, t)
    for method, path, options in _bad_requests(pbx, agent, "c1"):
        lean = _answer(h.client.request(method, path, **options))
        with fastapi_only(h):
            declared = _answer(h.client.request(method, path, **options))
        assert lean == declared, (method, path, options)
        assert lean[0] >= 400, (method, path, options, lean)
    assert tenant_state(h, t) == before


def _without_times(answer: tuple[Any, ...], interaction_id: str) -> tuple[Any, ...]:
    status, body, headers = answer
    if isinstance(body, dict):
        body = {
            k: v.replace(interaction_id, "ID") if isinstance(v, str) else v
            for k, v in body.items()
            if not k.endswith(("_at", "_deadline"))
        }
    return status, body, headers


def test_an_interaction_goes_through_alike(h: Harness) -> None:
    t = new_tenant(h, agents=1)
    agent, pbx = h.sign_in(t, "agent1"), h.api_key(t)
    assert h.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
    rounds = []
    for interaction_id, path in (("lean1", contextlib.nullcontext), ("declared1", lambda: fastapi_only(h))):
        with path():
            body = {"id": interaction_id, "queue_id": "sales", "channel": "phone", "from_address": "+14155550100"}
            steps = [
                h.client.post("/api/v1/interactions", json=body, headers=pbx),
                h.client.post(f"/api/v1/me/offers/{interaction_id}/accept", headers=agent),
                h.client.post(f"/api/v1/interactions/{interaction_id}/end", json={}, headers=pbx),
                h.client.post(
                    f"/api/v1/me/interactions/{interaction_id}/complete",
                    json={"disposition": "sold", "notes": "ok"},
                    headers=agent,
                ),
            ]
        rounds.append([_without_times(_answer(s), interaction_id) for s in steps])
        assert [s.status_code for s in steps] == [201, 200, 200, 204], [s.text for s in steps]
    assert rounds[0] == rounds[1]
    history = h.client.get("/api/v1/me/interactions", headers=agent).json()["interactions"]
    assert {(i["id"], i["disposition"]) for i in history} == {("lean1", "sold"), ("declared1", "sold")}
