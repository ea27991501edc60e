"""API keys for telephony and chat integrations: create (the secret is shown once), name, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from callbridge.auth.credentials import create_api_key, revoke_api_key
from callbridge.store.api_keys import list_keys
from callbridge.web.api.schemas import ApiKeyIn
from callbridge.web.pages.admin.common import TenantPage, text, validation_errors

router = APIRouter(include_in_schema=False)


def _keys(page: TenantPage) -> list[Any]:
    return list(list_keys(page.svc.engine, page.tenant_id, revoked_last=True))


def _render(page: TenantPage, status: int = 200, **context: Any) -> Response:
    context.setdefault("values", {})
    return page.render("api_keys.html", status, section="api-keys", keys=_keys(page), **context)


@router.get("/admin/{tenant_id}/api-keys")
def key_list(page: TenantPage) -> Response:
    return _render(page)


@router.post("/admin/{tenant_id}/api-keys")
def create_key(page: TenantPage) -> Response:
    values = {"name": text(page.form, "name")}
    try:
        body = ApiKeyIn.model_validate(values)
    except ValidationError as error:
        return _render(page, 422, values=values, errors=validation_errors(error))
    key = create_api_key(page.svc.engine, page.tenant_id, body.name, page.svc.clock.now(), actor=page.actor)
    # rendered, not redirected: this response is the only place the secret ever appears
    response = _render(page, 201, new_key=key)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/admin/{tenant_id}/api-keys/{key_id}/revoke")
def revoke_key(page: TenantPage, key_id: str) -> Response:
    if not revoke_api_key(page.svc.engine, page.tenant_id, key_id, page.svc.clock.now(), actor=page.actor):
        return _render(page, 404, errors={"keys": "That key does not exist or is already revoked."})
    return page.back("api-keys", "key_revoked")
