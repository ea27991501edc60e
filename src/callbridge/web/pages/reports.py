"""The supervisors' historical reports page: agent activity, queue performance, interaction search and
agent timelines, with charts and CSV export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from callbridge.web.pages import templates
from callbridge.web.pages.wallboard import SupervisorPageDep

router = APIRouter(include_in_schema=False)


@router.get("/supervisor/reports", response_class=HTMLResponse)
def reports_page(request: Request, page: SupervisorPageDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "supervisor/reports.html", {"tenant_id": page[1], "active": "reports"})
