"""The supervisors' live wallboard page (queues and agents, updated over the event WebSocket)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from callbridge.auth.credentials import cached_principal_for_token
from callbridge.auth.principal import Principal
from callbridge.web.deps import SESSION_COOKIE, ServicesDep
from callbridge.web.pages import templates
from callbridge.web.pages.admin.common import SignInNeeded
from callbridge.web.sso import sso_service

router = APIRouter(include_in_schema=False)


def signed_in_supervisor(request: Request, svc: ServicesDep, tenant_hint: str | None) -> Principal:
    """The person behind the session cookie. A browser that is not signed in is sent to sign in, then back:
    through the tenant's single sign-on when the URL names a tenant that has one, else to the
    administrator sign-in page (never a JSON 401: a person opened this page)."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    token = credential.strip() if scheme.lower() == "bearer" else request.cookies.get(SESSION_COOKIE, "")
    who = cached_principal_for_token(svc.engine, token, svc.clock.now()) if token else None
    if who is not None:
        return who
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    sso = sso_service(request)
    if tenant_hint and sso.tenant_exists(tenant_hint) and sso.provider(tenant_hint) is not None:
        raise SignInNeeded(here, f"/sso/login?tenant={quote(tenant_hint)}&next={quote(here, safe='/')}")
    raise SignInNeeded(here)


def supervisor_tenant(
    request: Request, svc: ServicesDep, tenant_id: str | None = None, tenant: str | None = None
) -> tuple[Principal, str]:
    """The tenant a supervisor page shows: the signed-in supervisor's own (a Callbridge administrator
    names one with ?tenant_id=, or ?tenant= as the demo prints it). Agents get 403."""
    named = tenant_id or tenant
    who = signed_in_supervisor(request, svc, named)
    shown = who.tenant_id or named
    if shown is None or not svc.node.has_tenant(shown):
        raise HTTPException(404, "name the tenant: ?tenant_id=…")
    if named not in (None, shown):
        raise HTTPException(404, f"tenant {named!r} does not exist")
    if not who.is_supervisor_of(shown):
        raise HTTPException(403, "only supervisors and admins of this tenant may see this")
    return who, shown


SupervisorPageDep = Annotated[tuple[Principal, str], Depends(supervisor_tenant)]


@router.get("/supervisor/wallboard", response_class=HTMLResponse)
def wallboard_page(request: Request, page: SupervisorPageDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "supervisor/wallboard.html", {"tenant_id": page[1], "active": "wallboard"}
    )
