"""Local admin sign-in and sign-out for the admin pages, and the tenant list."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from callbridge.auth.credentials import SESSION_SECONDS, end_session
from callbridge.auth.login_throttle import Throttled
from callbridge.auth.principal import PrincipalKind
from callbridge.services.configuration import TenantSettings
from callbridge.store import leases
from callbridge.store.leases import ClusterOverview
from callbridge.web.api.auth import sign_in_admin, throttle
from callbridge.web.api.schemas import AdminLoginIn, TenantIn
from callbridge.web.cookies import delete_cookie, set_cookie
from callbridge.web.deps import SESSION_COOKIE, ServicesDep
from callbridge.web.pages import templates
from callbridge.web.pages.admin.common import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SERVICE_ERRORS,
    AdminPage,
    Page,
    PageRefused,
    service_errors,
    text,
    validation_errors,
)
from callbridge.web.rate_limits import ANONYMOUS, SIGN_IN, client_address, rate_limited
from callbridge.web.security import local_path

router = APIRouter(include_in_schema=False)


def _safe_next(value: str) -> str:
    """Only a path of the admin or supervisor pages: never another site (no open redirect)."""
    return local_path(value, "/admin") or local_path(value, "/supervisor") or "/admin/"


def _login_page(request: Request, next_path: str, email: str = "", error: str = "", status: int = 200) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "admin/login.html",
        {"csrf": token, "csrf_field": CSRF_FIELD, "next": next_path, "email": email, "error": error},
        status_code=status,
    )
    settings = request.app.state.services.settings
    set_cookie(
        response, request, settings, LOGIN_CSRF_COOKIE, token, max_age=3600, path="/admin/login", same_site="Strict"
    )
    return response


@router.get("/admin/login", dependencies=[rate_limited(ANONYMOUS)])
def login_form(request: Request, next: str = "/admin/") -> HTMLResponse:
    return _login_page(request, _safe_next(next))


@router.post("/admin/login", dependencies=[rate_limited(SIGN_IN)])
async def login(request: Request, svc: ServicesDep) -> Response:
    form = await request.form()
    next_path = _safe_next(text(form, "next", "/admin/"))
    sent, expected = form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        return _login_page(request, next_path, error="The sign-in form expired: please try again.", status=403)
    email = text(form, "email")
    try:
        body = AdminLoginIn(email=email, password=str(form.get("password", "")))
    except ValidationError as error:
        problems = validation_errors(error)
        message = problems.get("email") and f"E-mail: {problems['email']}" or "Enter your e-mail and password."
        return _login_page(request, next_path, email, message, 422)
    # argon2 and the database: off the event loop
    outcome = await run_in_threadpool(sign_in_admin, svc, body.email, body.password, client_address(request))
    if isinstance(outcome, Throttled):
        page = _login_page(request, next_path, email, outcome.message, 429)
        page.headers["Retry-After"] = str(outcome.retry_after)
        return page
    if outcome is None:
        return _login_page(request, next_path, email, "Wrong e-mail or password.", 401)
    token = outcome
    response = RedirectResponse(next_path, 303)
    set_cookie(response, request, svc.settings, SESSION_COOKIE, token, max_age=SESSION_SECONDS)
    delete_cookie(response, request, svc.settings, LOGIN_CSRF_COOKIE, path="/admin/login", same_site="Strict")
    return response


@router.post("/admin/logout")
def logout(page: AdminPage) -> Response:
    token = page.request.cookies.get(SESSION_COOKIE, "")
    end_session(page.svc.engine, token)
    response = RedirectResponse("/admin/login", 303)
    delete_cookie(response, page.request, page.svc.settings, SESSION_COOKIE)
    return response


@router.get("/admin")
@router.get("/admin/")
def tenant_list(page: AdminPage) -> Response:
    """A local admin picks a tenant (or creates one); an agent-admin goes straight to their own."""
    if page.who.kind is not PrincipalKind.LOCAL_ADMIN:
        return RedirectResponse(f"/admin/{page.who.tenant_id}/", 303)
    tenants = page.svc.configuration.list_tenants()
    return page.render(
        "tenants.html", tenants=tenants, values={}, failed_sign_ins=throttle(page.svc).recent(), cluster=_cluster(page)
    )


@router.post("/admin/")
def create_tenant(page: AdminPage) -> Response:
    if page.who.kind is not PrincipalKind.LOCAL_ADMIN:
        raise PageRefused(403, "Only a Callbridge administrator may create tenants.")
    values = {
        "id": text(page.form, "id"),
        "name": text(page.form, "name"),
        "time_zone": text(page.form, "time_zone") or "UTC",
        "phone_region": text(page.form, "phone_region") or "US",
    }
    try:
        body = TenantIn.model_validate(values)
        page.svc.configuration.create_tenant(
            TenantSettings(body.id, body.name, body.time_zone, body.phone_region, body.allowed_origins),
            actor=page.actor,
        )
    except ValidationError as error:
        errors = validation_errors(error, values)
    except SERVICE_ERRORS as error:
        errors = service_errors(error)
    else:
        return RedirectResponse(f"/admin/{body.id}/?done=tenant_created", 303)
    tenants = page.svc.configuration.list_tenants()
    failed = throttle(page.svc).recent()
    cluster = _cluster(page)
    return page.render(
        "tenants.html", 422, tenants=tenants, values=values, errors=errors, failed_sign_ins=failed, cluster=cluster
    )


def _cluster(page: Page) -> ClusterOverview | None:
    """The nodes and who holds each tenant, when this node runs in a cluster (None: one node holds them all)."""
    if getattr(page.request.app.state, "cluster", None) is None:
        return None
    return leases.overview(page.svc.engine)
