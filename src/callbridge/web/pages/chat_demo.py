"""`GET /chat/demo?tenant=…&queue=…`: a plain page that carries the chat widget, as a customer's site would."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from callbridge.web.pages import templates
from callbridge.web.rate_limits import ANONYMOUS, rate_limited

router = APIRouter(include_in_schema=False)


@router.get("/chat/demo", response_class=HTMLResponse, dependencies=[rate_limited(ANONYMOUS)])
def chat_demo(
    request: Request,
    tenant: str = Query(default="demo", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
    queue: str = Query(default="web-chat", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
) -> HTMLResponse:
    return templates.TemplateResponse(request, "chat_demo.html", {"tenant": tenant, "queue": queue})
