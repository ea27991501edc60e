"""One error shape for every failure: `{"error": code, "message": text, "field": name-or-null}`.

Messages say what is wrong and what to do; a validation error names the field.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.services.configuration import Conflict, InvalidField, UnknownReference
from callbridge.services.node import StoreUnavailable, TenantMoved, TenantNotLoaded
from callbridge.services.operations import ForwardFailed

__all__ = ["ERROR_RESPONSES", "ErrorBody", "InvalidField", "RetryLater", "error_response", "install_error_handlers"]


class RetryLater(Exception):
    """Too many attempts: 429 `too_many_requests` with `Retry-After` (whole seconds)."""

    def __init__(self, message: str, retry_after: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers or {}  # e.g. CORS, for the chat widget to read the answer


class ErrorBody(BaseModel):
    error: str
    message: str
    field: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed request"},
    401: {"model": ErrorBody, "description": "Missing or invalid credentials"},
    403: {"model": ErrorBody, "description": "Not allowed for this role"},
    404: {"model": ErrorBody, "description": "Not found (or belongs to another tenant)"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state"},
    422: {"model": ErrorBody, "description": "Invalid field value; `field` names it"},
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message": message, "field": field})


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _naming(field: str, message: str) -> str:
    """The message, starting with the field it is about (as validation messages do)."""
    return f"{field}: {message}" if field else message


# A browser's page request over a rate limit (a sign-in form, the console's entry) gets words, not JSON.
_WAIT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Please wait · Callbridge</title></head>
<body><main><h1>Please wait</h1><p role="alert">{message}</p></main></body></html>
"""


def _wants_a_page(request: Request) -> bool:
    path = request.url.path
    return "text/html" in request.headers.get("accept", "") and not path.startswith(("/api/", "/chat/v1/"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        # a JSON syntax error's location is a character offset, not a field
        field = "body" if first.get("type") == "json_invalid" else _field_name(first.get("loc", ()))
        message = f"{field}: {first.get('msg', 'invalid value')}"
        more = len(error.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        return error_response(422, "invalid_field", message, field)

    @app.exception_handler(InvalidField)
    async def _invalid(_request: Request, error: InvalidField) -> JSONResponse:
        return error_response(422, "invalid_field", _naming(error.field, str(error)), error.field)

    @app.exception_handler(RetryLater)
    async def _retry_later(request: Request, error: RetryLater) -> Response:
        response: Response
        if _wants_a_page(request):
            response = HTMLResponse(_WAIT_PAGE.format(message=html.escape(str(error))), status_code=429)
        else:
            response = error_response(429, "too_many_requests", str(error))
        response.headers.update(error.headers)
        response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, error: NotFound) -> JSONResponse:
        return error_response(404, "not_found", str(error))

    @app.exception_handler(InvalidTransition)
    async def _conflict_state(_request: Request, error: InvalidTransition) -> JSONResponse:
        return error_response(409, "invalid_state", str(error))

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, error: Conflict) -> JSONResponse:
        return error_response(409, "conflict", _naming(error.field, str(error)), error.field or None)

    @app.exception_handler(UnknownReference)
    async def _unknown(_request: Request, error: UnknownReference) -> JSONResponse:
        return error_response(422, "unknown_reference", _naming(error.field, str(error)), error.field)

    @app.exception_handler(StoreUnavailable)
    async def _store(_request: Request, error: StoreUnavailable) -> JSONResponse:
        return error_response(503, "store_unavailable", str(error))

    @app.exception_handler(TenantMoved)
    async def _moved(_request: Request, error: TenantMoved) -> JSONResponse:
        response = error_response(503, "tenant_moved", str(error))
        response.headers["Retry-After"] = "1"
        if error.holder is not None:
            response.headers["Callbridge-Tenant-Node"] = error.holder
        return response

    @app.exception_handler(ForwardFailed)
    async def _forward_failed(_request: Request, error: ForwardFailed) -> JSONResponse:
        # 503: nothing was applied, try again; 504: no answer in time, it may have been applied
        if error.applied is False:
            response = error_response(503, "holder_unavailable", str(error))
            response.headers["Retry-After"] = "1"
            return response
        return error_response(504, "holder_timeout", str(error))

    @app.exception_handler(TenantNotLoaded)
    async def _tenant(_request: Request, error: TenantNotLoaded) -> JSONResponse:
        return error_response(404, "not_found", f"tenant {str(error)!r} does not exist")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # FastAPI could not read the body (e.g. not UTF-8) before validating it
            return error_response(400, "invalid_body", f"body: {error.detail}", "body")
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return error_response(error.status_code, codes.get(error.status_code, "error"), str(error.detail))
