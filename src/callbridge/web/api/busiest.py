"""The three busiest routes, served without FastAPI's per-request machinery (ADR 0016).

Every interaction costs three requests: the integration creates it (`POST /api/v1/interactions`), the agent
accepts it (`POST /api/v1/me/offers/{id}/accept`) and completes it (`POST /api/v1/me/interactions/{id}/complete`).
For them, FastAPI's generic request handling (solving each route's dependency tree, validating the response it
was just handed, walking the included routers) cost more CPU than Callbridge's own work. Here each is a plain
Starlette route, matched first, that does what FastAPI does for it, in the same order and with the same
answers: a body that is not JSON is refused before the credential is read (422, field `body`), then the
credential and the role (401, 403), then the body's fields (422 naming the first bad field, through the same
`RequestValidationError` handler), then the same work (`integrations.submit_interaction`, `agent.accept`,
`agent.complete`), then the same JSON.

The FastAPI routes stay declared where they were (`integrations.py`, `agent.py`): they describe these routes in
the OpenAPI document, and they call the same functions, so either path behaves the same. tests/e2e/test_busiest.py
holds the two to each other.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callbridge.realtime.wire import InteractionView
from callbridge.web.api import agent, integrations
from callbridge.web.api.schemas import CompleteIn, InteractionIn
from callbridge.web.deps import Services, an_agent, an_integration, presented_token, principal_for

Model = TypeVar("Model", bound=BaseModel)
EMPTY = object()  # no body at all (JSON `null` is a body)


async def _json_body(request: Request) -> Any:
    """The body as FastAPI reads it for a JSON body parameter: EMPTY when empty, the parsed JSON when the
    content type is JSON, else the bytes (which then fail validation); 422 (`body`) when the JSON is not."""
    try:
        raw = await request.body()
        if not raw:
            return EMPTY
        content_type = request.headers.get("content-type")
        if not content_type:
            return raw
        message = email.message.Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        if message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json")):
            return json.loads(raw)
        return raw
    except json.JSONDecodeError as error:
        invalid = {"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**invalid, "ctx": {"error": error.msg}}], body=error.doc) from error
    except Exception as error:
        raise HTTPException(400, "There was an error parsing the body") from error


def _validated(model: type[Model], body: Any) -> Model:
    """`body` as `model`, or the errors FastAPI would give for it (located under `body`)."""
    if body is EMPTY:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing], body=None)
    try:
        return model.model_validate(body, from_attributes=True)
    except ValidationError as error:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        raise RequestValidationError(errors, body=body) from None


def _json(view: InteractionView | Response, status_code: int = 200) -> Response:
    if isinstance(view, Response):
        return view
    return Response(view.model_dump_json(by_alias=True), status_code, media_type="application/json")


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def create_interaction(request: Request) -> Response:
    body = await _json_body(request)
    who = an_integration(await principal_for(request, presented_token(request)))
    assert who.tenant_id is not None
    submitted = _validated(InteractionIn, body)
    return _json(await integrations.submit_interaction(_services(request), who.tenant_id, submitted), 201)


async def accept_offer(request: Request) -> Response:
    who = an_agent(await principal_for(request, presented_token(request)))
    interaction_id: str = request.path_params["interaction_id"]
    return _json(await agent.accept(request, _services(request), who, interaction_id))


async def complete_interaction(request: Request) -> Response:
    body = await _json_body(request)
    who = an_agent(await principal_for(request, presented_token(request)))
    completed = _validated(CompleteIn, body)
    await agent.complete(_services(request), who, request.path_params["interaction_id"], completed)
    return Response(status_code=204)


ROUTES: tuple[tuple[str, Callable[[Request], Awaitable[Response]]], ...] = (
    ("/api/v1/interactions", create_interaction),
    ("/api/v1/me/offers/{interaction_id}/accept", accept_offer),
    ("/api/v1/me/interactions/{interaction_id}/complete", complete_interaction),
)


def install(app: FastAPI) -> None:
    """Puts the busiest routes first: matched before any other (outside the OpenAPI document, which describes
    them through their FastAPI declarations)."""
    for path, endpoint in reversed(ROUTES):
        app.router.routes.insert(0, Route(path, endpoint, methods=["POST"], include_in_schema=False))
