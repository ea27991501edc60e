"""The supervisors' live wallboard page (queues and agents, updated over the event WebSocket)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from callbridge.auth.principal import Principal
from callbridge.web.deps import PrincipalDep, ServicesDep
from callbridge.web.pages import templates

router = APIRouter(include_in_schema=False)


def supervisor_tenant(who: PrincipalDep, svc: ServicesDep, tenant_id: str | None = None) -> tuple[Principal, str]:
    """The tenant a supervisor page shows: the signed-in supervisor's own (a Callbridge administrator
    names one with ?tenant_id=). Agents get 403."""
    tenant = who.tenant_id or tenant_id
    if tenant is None or not svc.node.has_tenant(tenant):
        raise HTTPException(404, "name the tenant: ?tenant_id=…")
    if tenant_id not in (None, tenant):
        raise HTTPException(404, f"tenant {tenant_id!r} does not exist")
    if not who.is_supervisor_of(tenant):
        raise HTTPException(403, "only supervisors and admins of this tenant may see this")
    return who, tenant


SupervisorPageDep = Annotated[tuple[Principal, str], Depends(supervisor_tenant)]


@router.get("/supervisor/wallboard", response_class=HTMLResponse)
def wallboard_page(request: Request, page: SupervisorPageDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "supervisor/wallboard.html", {"tenant_id": page[1], "active": "wallboard"}
    )
