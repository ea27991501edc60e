"""The agent console shell: `GET /console?tenant=<tenant>[&sandbox=true]`.

It is what a CRM frames (console mode) or opens in its own window (non-console mode). Signed out, it
offers "Sign in with <CRM>" (or signs in by itself when the agent's "auto login" is on); signed in, it
shows the agent and their status and keeps a live event WebSocket. The full console grows from here.

Framing is allowed only by Callbridge itself and the tenant's allowed CRM origins (CSP frame-ancestors).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from callbridge.auth.credentials import principal_for_token
from callbridge.auth.principal import PrincipalKind
from callbridge.store import tenants as store_tenants
from callbridge.web.deps import SESSION_COOKIE, ServicesDep
from callbridge.web.pages import templates
from callbridge.web.rate_limits import ANONYMOUS, rate_limited
from callbridge.web.sso import AUTO_LOGIN_COOKIE, SIGNED_OUT_COOKIE, SsoDep, refused

router = APIRouter(include_in_schema=False)


def console_csp(allowed_origins: list[str], softphone_url: str = "") -> str:
    """The CRM origins the admin allowed may frame the console and serve it their CTI script
    (Salesforce's Open CTI library must be loaded from the org's own domain); nothing else may. The browser
    softphone may also open its SIP WebSocket (Kamailio's, another origin)."""
    trusted = " ".join(["'self'", *(o for o in allowed_origins if _is_origin(o))])
    connect = " ".join(["'self'", *([softphone_url] if _is_socket_url(softphone_url) else [])])
    return (
        f"default-src 'self'; script-src {trusted}; style-src 'self'; img-src 'self' data:; connect-src {connect}; "
        f"frame-ancestors {trusted}"
    )


def _is_socket_url(value: str) -> bool:
    return value.startswith(("wss://", "ws://")) and not any(c in value for c in " ;,'\"")


def _softphone_url(request: Request) -> str:
    voice = getattr(request.app.state, "channels", None) and request.app.state.channels.voice
    softphones = getattr(voice, "softphones", None)
    return str(getattr(softphones, "ws_url", "") or "")


def _is_origin(value: str) -> bool:
    return value.startswith(("https://", "http://")) and not any(c in value for c in " ;,'\"")


@router.get("/console", dependencies=[rate_limited(ANONYMOUS)])  # the single sign-on entry: no credential
def console(request: Request, svc: ServicesDep, sso: SsoDep, tenant: str = "", sandbox: bool = False) -> HTMLResponse:
    tenant_row = store_tenants.console_tenant(svc.engine, tenant)
    if tenant_row is None:
        return refused(request, "unknown_tenant", f"Callbridge has no tenant called {tenant!r}.", 404)
    provider = sso.provider(tenant)
    agent: Any = None
    token = request.cookies.get(SESSION_COOKIE, "")
    who = principal_for_token(svc.engine, token, svc.clock.now()) if token else None
    if who is not None and who.kind is PrincipalKind.AGENT and who.tenant_id == tenant:
        agent = store_tenants.console_agent(svc.engine, tenant, who.subject_id)
    config = {
        "tenant": tenant,
        "sandbox": sandbox,
        "signedIn": agent is not None,
        "autoLogin": request.cookies.get(AUTO_LOGIN_COOKIE, "1") != "0",
        "signedOut": request.cookies.get(SIGNED_OUT_COOKIE) == "1",
        "ssoReady": provider is not None,
        "agentId": agent.id if agent is not None else None,
        "allowedOrigins": [o for o in tenant_row.allowed_origins if _is_origin(o)],
    }
    response = templates.TemplateResponse(
        request,
        "console.html",
        {
            "tenant_name": tenant_row.name,
            "provider_name": provider.display_name if provider is not None else "your CRM",
            "agent": agent,
            "config": config,
            "login_url": "/sso/login?" + urlencode({"tenant": tenant, **({"sandbox": "true"} if sandbox else {})}),
        },
    )
    response.headers["Content-Security-Policy"] = console_csp(list(tenant_row.allowed_origins), _softphone_url(request))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
