"""Integers the database cannot hold are refused by name (422), never passed on to a query that fails (500).

Every integer a request can carry must declare bounds within the database's 64-bit range: query and path
parameters of every route of the route table (pages too), and JSON body fields of the OpenAPI document.
Each integer query parameter is then sent just beyond the range.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest
from fastapi.routing import iter_route_contexts

from callbridge.web.app import create_app
from tests.e2e.conftest import Harness

APP = create_app()
OPENAPI = APP.openapi()
DB_MAX = 2**63 - 1
DB_MIN = -(2**63)


def _schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and what it combines (anyOf, items, properties, $ref), flattened."""
    if "$ref" in schema:
        return _schemas(OPENAPI["components"]["schemas"][schema["$ref"].split("/")[-1]])
    found = [schema]
    for combined in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(combined, []):
            found += _schemas(option)
    if "items" in schema:
        found += _schemas(schema["items"])
    for value in schema.get("properties", {}).values():
        found += _schemas(value)
    if isinstance(schema.get("additionalProperties"), dict):
        found += _schemas(schema["additionalProperties"])
    return found


def _body_integers() -> list[tuple[str, str, str, dict[str, Any]]]:
    """Every integer field of every JSON request body in the OpenAPI document."""
    found = []
    for path, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                for schema in _schemas(media.get("schema", {})):
                    if schema.get("type") == "integer":
                        found.append((method.upper(), path, f"body:{schema.get('title', '?')}", schema))
    return found


def _route_integers() -> list[tuple[str, str, str, Any]]:
    """Every integer query and path parameter of every route of the route table (pages included), with its
    declared constraints, found through the routes' dependencies."""
    found = []

    def walk(dependant: Any, method: str, path: str) -> None:
        for parameter in dependant.query_params + dependant.path_params:
            annotation = parameter.field_info.annotation
            if annotation is int or int in get_args(annotation):
                kind = "query" if parameter in dependant.query_params else "path"
                found.append((method, path, parameter.field_info.alias or parameter.name, kind, parameter.field_info))
        for sub in dependant.dependencies:
            walk(sub, method, path)

    for route in iter_route_contexts(APP.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is not None:
            for method in sorted(route.methods or {"GET"}):
                walk(dependant, method, route.path)
    return found


BODY_INTEGERS = _body_integers()
ROUTE_INTEGERS = _route_integers()
QUERY_INTEGERS = sorted({(method, path, name) for method, path, name, kind, _info in ROUTE_INTEGERS if kind == "query"})


def test_the_census_finds_the_integer_parameters() -> None:
    names = {name for _m, _p, name in QUERY_INTEGERS}
    assert {"before_id", "offset", "after_seq", "limit"} <= names


@pytest.mark.parametrize(
    ("method", "path", "name", "schema"), BODY_INTEGERS, ids=lambda v: str(v) if isinstance(v, str) else ""
)
def test_every_integer_of_a_request_body_is_bounded_to_the_database_range(
    method: str, path: str, name: str, schema: dict[str, Any]
) -> None:
    # (compared as floats: the document may write a bound as one)
    assert float(schema.get("maximum", float("inf"))) <= float(DB_MAX), f"{method} {path} {name}: no upper bound"
    assert float(schema.get("minimum", float("-inf"))) >= float(DB_MIN), f"{method} {path} {name}: no lower bound"


@pytest.mark.parametrize(
    ("method", "path", "name", "kind", "info"), ROUTE_INTEGERS, ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_integer_parameter_of_every_route_is_bounded_to_the_database_range(
    method: str, path: str, name: str, kind: str, info: Any
) -> None:
    upper = [c.le for c in info.metadata if hasattr(c, "le")] + [c.lt - 1 for c in info.metadata if hasattr(c, "lt")]
    lower = [c.ge for c in info.metadata if hasattr(c, "ge")] + [c.gt + 1 for c in info.metadata if hasattr(c, "gt")]
    assert max(upper, default=DB_MAX + 1) <= DB_MAX, f"{method} {path} {kind} {name}: no upper bound"
    assert min(lower, default=DB_MIN - 1) >= DB_MIN, f"{method} {path} {kind} {name}: no lower bound"


def _path_of(path: str, tenant: str) -> str:
    return path.replace("{tenant_id}", tenant).replace("{interaction_id}", "nothing-here")


@pytest.mark.parametrize(("method", "path", "name"), QUERY_INTEGERS)
@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_an_integer_beyond_the_database_range_is_refused_by_name(
    app_harness: Harness, method: str, path: str, name: str, value: int
) -> None:
    harness = app_harness
    headers = harness.sign_in("t1", "agent1") if path.startswith("/api/v1/me/") else harness.admin
    if path.startswith("/admin/"):  # pages sign in with the cookie
        headers = {"Cookie": f"callbridge_session={harness.admin['Authorization'].removeprefix('Bearer ')}"}
    response = harness.client.request(method, _path_of(path, "t1"), params={name: str(value)}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == name


def test_a_chat_delivery_mark_beyond_the_database_range_is_refused_by_name(app_harness: Harness) -> None:
    harness = app_harness
    agent = harness.sign_in("t1", "agent1")
    response = harness.client.post("/api/v1/me/chats/nothing-here/delivered", json={"up_to_seq": 2**64}, headers=agent)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "up_to_seq"
