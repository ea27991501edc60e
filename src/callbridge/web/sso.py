"""Single sign-on routes: the launch URL, the redirect URI, the hand-off to the console frame, sign-out,
and the admin API for a tenant's identity provider.

    GET  /sso/login?tenant=<tenant>[&sandbox=true][&next=/console?tenant=<tenant>]   launch URL
         (the console adds &popup=1&handoff=<S256 challenge>[&silent=1] when it runs in a frame)
    GET  /sso/callback                 the exact redirect URI registered at the provider
    POST /sso/handoff                  the console frame redeems a pop-up's sign-in: sets its session cookie
    POST /sso/logout                   ends the session and revokes the provider tokens
    GET/PUT /api/v1/tenants/{id}/sso, GET /api/v1/tenants/{id}/sso/warnings   (tenant admins)

See docs/sso.md and docs/adr/0003-sso-in-frames.md.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from callbridge.auth.credentials import SESSION_SECONDS
from callbridge.auth.oidc import ProviderKind, SignInRefused
from callbridge.auth.secrets import TokenCipher, load_secret_key
from callbridge.services.sso import LOGIN_SECONDS, Completed, ProviderSettings, SsoService
from callbridge.web.api.audit import actor_of
from callbridge.web.cookies import delete_cookie, set_cookie
from callbridge.web.deps import SESSION_COOKIE, AgentDep, ServicesDep, TenantAdminDep, bearer
from callbridge.web.errors import ERROR_RESPONSES, InvalidField
from callbridge.web.pages import templates
from callbridge.web.rate_limits import ANONYMOUS, rate_limited
from callbridge.web.security import local_path

log = logging.getLogger(__name__)
# sign-in needs no credential: every route here counts against the anonymous rate limit
router = APIRouter(include_in_schema=False, dependencies=[rate_limited(ANONYMOUS)])
api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["single sign-on"])

LOGIN_COOKIE = "callbridge_sso_login"  # binds a pending sign-in to the browser that started it
AUTO_LOGIN_COOKIE = "callbridge_sso_auto"  # the agent's "auto login" preference, remembered per CRM site
SIGNED_OUT_COOKIE = "callbridge_signed_out"  # after a sign-out, no automatic sign-in until the agent asks
SSO_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
NEXT_SECTION = "/console"

ADVICE: dict[str, str] = {
    "unknown_tenant": "Check the link your CRM opened, or ask your admin for your company's Callbridge launch URL.",
    "no_provider": "Ask your Callbridge admin to connect your CRM (single sign-on settings of the tenant).",
    "unknown_email": "Ask your Callbridge admin to create an agent account with the e-mail of your CRM user.",
    "unverified_email": "Verify your e-mail address in your CRM (or ask your CRM admin to), then sign in again.",
    "no_email": "Ask your CRM admin to let Callbridge see your e-mail address (the 'email' scope).",
    "agent_disabled": "Ask your Callbridge admin to enable your agent account.",
    "email_taken": "Ask your Callbridge admin: the agent account is already linked to another CRM user.",
    "access_denied": "Sign in again and choose Allow, or ask your admin if you should not use Callbridge.",
    "bad_next": "Open Callbridge from your CRM again; the link you followed is not one Callbridge trusts.",
}
DEFAULT_ADVICE = "Start again from your CRM. If this keeps happening, tell your Callbridge admin what this page says."


# ---------------------------------------------------------------------------------------- plumbing


def sso_service(request: Request) -> SsoService:
    """One SsoService per application, made on first use from the application's services."""
    found: SsoService | None = getattr(request.app.state, "sso", None)
    if found is None:
        svc = request.app.state.services
        cipher = TokenCipher(load_secret_key(svc.settings))
        found = SsoService(svc.engine, svc.node, svc.clock, cipher, policy=svc.settings.outbound_policy())
        request.app.state.sso = found
    return found


SsoDep = Annotated[SsoService, Depends(sso_service)]


def public_origin(svc: Any) -> str:
    parts = urlsplit(svc.settings.effective_public_url())
    return f"{parts.scheme}://{parts.netloc}"


def redirect_uri(svc: Any) -> str:
    return f"{svc.settings.effective_public_url()}/sso/callback"


def set_session_cookies(response: Response, request: Request, svc: Any, done: Completed) -> None:
    assert done.session_token is not None
    settings = svc.settings
    set_cookie(response, request, settings, SESSION_COOKIE, done.session_token, max_age=SESSION_SECONDS, frameable=True)
    auto = "1" if done.auto_login else "0"
    set_cookie(response, request, settings, AUTO_LOGIN_COOKIE, auto, max_age=400 * 86400, frameable=True)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Content-Security-Policy"] = SSO_CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def refused(request: Request, code: str, message: str, status: int = 403) -> HTMLResponse:
    return page(
        request,
        "sso_message.html",
        status,
        title="You are not signed in",
        message=message,
        advice=ADVICE.get(code, DEFAULT_ADVICE),
        code=code,
    )


def safe_next(value: str, tenant_id: str) -> str | None:
    """Only the console or the supervisor pages, as a path of this site: never another page or host (no open
    redirect)."""
    if not value:
        return f"/console?tenant={tenant_id}"
    return local_path(value, NEXT_SECTION) or local_path(value, "/supervisor")


# ---------------------------------------------------------------------------------------- sign-in


@router.get("/sso/login")
async def login(
    request: Request,
    svc: ServicesDep,
    sso: SsoDep,
    tenant: str = "",
    sandbox: bool = False,
    next: str = "",  # noqa: A002 - the parameter's public name
    popup: bool = False,
    handoff: str = "",
    silent: bool = False,
) -> Response:
    if not tenant or not await run_in_threadpool(sso.tenant_exists, tenant):
        return refused(request, "unknown_tenant", f"Callbridge has no tenant called {tenant!r}.", 404)
    next_path = safe_next(next, tenant)
    if next_path is None:
        return refused(request, "bad_next", "The link asked Callbridge to send you to a page it does not trust.", 400)
    if popup and not (43 <= len(handoff) <= 128 and handoff.replace("-", "").replace("_", "").isalnum()):
        return refused(request, "bad_request", "This sign-in window was opened without its proof: start again.", 400)
    if await run_in_threadpool(sso.provider, tenant) is None:
        return refused(request, "no_provider", "Single sign-on is not set up for your company yet.", 409)
    browser_secret = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    try:
        url = await sso.begin(
            tenant,
            browser_secret=browser_secret,
            redirect_uri=redirect_uri(svc),
            sandbox=sandbox,
            next_path=next_path,
            popup=popup,
            handoff_challenge=handoff if popup else "",
            silent=silent,
        )
    except SignInRefused as error:
        return refused(request, error.code, error.message, 502)
    response = RedirectResponse(url, status_code=302)
    response.headers["Content-Security-Policy"] = SSO_CSP
    response.headers["Cache-Control"] = "no-store"
    # SameSite=Lax: sent when the provider sends the browser back (a top-level navigation), not cross-site otherwise.
    set_cookie(response, request, svc.settings, LOGIN_COOKIE, browser_secret, max_age=LOGIN_SECONDS, path="/sso")
    return response


@router.get("/sso/callback")
async def callback(
    request: Request, svc: ServicesDep, sso: SsoDep, state: str = "", code: str = "", error: str = ""
) -> Response:
    browser_secret = request.cookies.get(LOGIN_COOKIE, "")
    try:
        outcome = await sso.complete(browser_secret=browser_secret, state=state, code=code, error=error)
    except SignInRefused as refusal:
        await run_in_threadpool(sso.record_refusal, refusal.tenant_id, refusal.code, refusal.detail or refusal.message)
        return _refused_in_window(request, svc, refusal)
    if not isinstance(outcome, Completed):
        # prompt=none could not sign in silently: ask again, showing the provider's pages this time.
        url = await sso.begin(
            outcome.tenant_id,
            browser_secret=browser_secret,
            redirect_uri=redirect_uri(svc),
            sandbox=outcome.sandbox,
            next_path=outcome.next_path,
            popup=outcome.popup,
            handoff_challenge=outcome.handoff_challenge,
        )
        response: Response = RedirectResponse(url, status_code=302)
        response.headers["Content-Security-Policy"] = SSO_CSP
        return response
    if outcome.popup:
        return page(
            request,
            "sso_handoff.html",
            handoff={"type": "callbridge-sso", "code": outcome.handoff_code, "tenant": outcome.tenant_id},
            target_origin=public_origin(svc),
        )
    response = RedirectResponse(outcome.next_path or f"/console?tenant={outcome.tenant_id}", status_code=303)
    response.headers["Content-Security-Policy"] = SSO_CSP
    set_session_cookies(response, request, svc, outcome)
    return response


def _refused_in_window(request: Request, svc: Any, refusal: SignInRefused) -> HTMLResponse:
    # the detail (which check failed) is for the admin's log, with the tenant; the page says it plainly
    log.warning(
        "sign-in refused",
        extra={"tenant_id": refusal.tenant_id, "code": refusal.code, "detail": refusal.detail or refusal.message},
    )
    status = 400 if refusal.code in ("state_mismatch", "expired", "bad_request") else 403
    # A pop-up also tells the console frame, which shows the message where the agent is looking.
    return page(
        request,
        "sso_message.html",
        status,
        title="You are not signed in",
        message=refusal.message,
        advice=ADVICE.get(refusal.code, DEFAULT_ADVICE),
        code=refusal.code,
        notice={
            "type": "callbridge-sso-error",
            "code": refusal.code,
            "message": refusal.message,
            "advice": ADVICE.get(refusal.code, DEFAULT_ADVICE),
        },
        target_origin=public_origin(svc),
    )


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(max_length=64)
    code: str = Field(max_length=200)
    verifier: str = Field(min_length=43, max_length=128)


class HandoffOut(BaseModel):
    agent_id: str
    auto_login: bool
    expires_in: int


@router.post("/sso/handoff")
async def handoff(body: HandoffIn, request: Request, svc: ServicesDep, sso: SsoDep) -> Response:
    try:
        done = await sso.redeem_handoff(body.tenant, body.code, body.verifier)
    except SignInRefused as refusal:
        await run_in_threadpool(sso.record_refusal, body.tenant, refusal.code, refusal.detail or refusal.message)
        return JSONResponse({"error": refusal.code, "message": refusal.message}, status_code=403)
    response = JSONResponse(
        HandoffOut(agent_id=done.agent_id, auto_login=done.auto_login, expires_in=SESSION_SECONDS).model_dump()
    )
    response.headers["Cache-Control"] = "no-store"
    set_session_cookies(response, request, svc, done)
    return response


@router.post("/sso/logout", status_code=204)
async def logout(
    request: Request,
    svc: ServicesDep,
    sso: SsoDep,
    who: AgentDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    token = credentials.credentials if credentials is not None else request.cookies.get(SESSION_COOKIE, "")
    assert who.tenant_id is not None
    await sso.sign_out(who.tenant_id, who.subject_id, token)
    response = Response(status_code=204)
    delete_cookie(response, request, svc.settings, SESSION_COOKIE, frameable=True)
    set_cookie(response, request, svc.settings, SIGNED_OUT_COOKIE, "1", max_age=SESSION_SECONDS, frameable=True)
    return response


# ---------------------------------------------------------------------------------------- admin API


class SsoSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["builtin_crm", "salesforce", "oidc"]
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str | None = Field(
        default=None, max_length=1000, description="Write-only; omit (null) to keep the stored one, '' to remove it"
    )
    display_name: str = Field(default="", max_length=200, description="Shown on the sign-in button")
    issuer: str = Field(default="", max_length=500, description="builtin_crm and oidc: the provider's issuer URL")
    discovery_url: str = Field(default="", max_length=500, description="oidc: when not <issuer>/.well-known/…")
    login_host: str = Field(
        default="", max_length=255, description="salesforce: My Domain host; default login.salesforce.com"
    )
    sandbox_login_host: str = Field(
        default="", max_length=255, description="salesforce: sandbox host; default test.salesforce.com"
    )
    scope: str = Field(default="", max_length=500, description="Default per kind; 'openid' is always included")

    def provider_settings(self) -> ProviderSettings:
        return ProviderSettings(
            kind=ProviderKind(self.kind),
            client_id=self.client_id,
            client_secret=self.client_secret,
            display_name=self.display_name,
            issuer=self.issuer,
            discovery_url=self.discovery_url,
            login_host=self.login_host,
            sandbox_login_host=self.sandbox_login_host,
            scope=self.scope,
        )


class SsoSettingsOut(BaseModel):
    kind: str
    display_name: str
    client_id: str
    client_secret_set: bool
    issuer: str
    discovery_url: str
    login_host: str
    sandbox_login_host: str
    scope: str
    redirect_uri: str = Field(description="Register exactly this URL at the provider")
    launch_url: str = Field(description="The URL the CRM opens; add &sandbox=true for a Salesforce sandbox")


class SsoWarningOut(BaseModel):
    id: str
    kind: str
    message: str
    agent_ids: list[str]
    created_at: float


def _settings_out(svc: Any, sso: SsoService, tenant_id: str) -> SsoSettingsOut:
    config = sso.provider(tenant_id)
    if config is None:
        raise HTTPException(404, "single sign-on is not set up for this tenant: PUT its settings first")
    base = svc.settings.effective_public_url()
    return SsoSettingsOut(
        kind=config.kind.value,
        display_name=config.display_name,
        client_id=config.client_id,
        client_secret_set=config.client_secret is not None,
        issuer=config.issuer,
        discovery_url=config.discovery_url,
        login_host=config.login_host,
        sandbox_login_host=config.sandbox_login_host,
        scope=config.scope,
        redirect_uri=redirect_uri(svc),
        launch_url=f"{base}/sso/login?tenant={tenant_id}",
    )


@api.get("/tenants/{tenant_id}/sso")
def get_sso_settings(tenant_id: str, svc: ServicesDep, sso: SsoDep, _who: TenantAdminDep) -> SsoSettingsOut:
    """The tenant's identity provider (the client secret is never shown)."""
    if not sso.tenant_exists(tenant_id):
        raise HTTPException(404, f"tenant {tenant_id!r} does not exist")
    return _settings_out(svc, sso, tenant_id)


@api.put("/tenants/{tenant_id}/sso")
def put_sso_settings(
    tenant_id: str, body: SsoSettingsIn, svc: ServicesDep, sso: SsoDep, who: TenantAdminDep
) -> SsoSettingsOut:
    """Connect the tenant's CRM for single sign-on: the built-in CRM, Salesforce, or any OpenID Connect provider."""
    if not sso.tenant_exists(tenant_id):
        raise HTTPException(404, f"tenant {tenant_id!r} does not exist")
    try:
        sso.configure(
            tenant_id,
            body.provider_settings(),
            actor=actor_of(svc.engine, who),
        )
    except ValueError as error:
        field, _, message = str(error).partition(": ")
        raise InvalidField(message or str(error), field) from error
    return _settings_out(svc, sso, tenant_id)


@api.get("/tenants/{tenant_id}/sso/warnings")
def get_sso_warnings(tenant_id: str, sso: SsoDep, _who: TenantAdminDep) -> list[SsoWarningOut]:
    """Problems found while linking agents, newest first (e.g. several agents with one e-mail)."""
    if not sso.tenant_exists(tenant_id):
        raise HTTPException(404, f"tenant {tenant_id!r} does not exist")
    return [SsoWarningOut(**w) for w in sso.warnings(tenant_id)]
