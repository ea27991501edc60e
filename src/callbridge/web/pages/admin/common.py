"""What every admin page shares: who is signed in, CSRF protection, rendering, and turning errors into
messages next to the field they are about.

Pages are server-rendered forms that post back to their own handlers; handlers validate with the REST
API's Pydantic models (web/api/schemas.py) and call the same services, so a page and the API accept and
refuse exactly the same input. Sign-in is the `callbridge_session` cookie (a local admin signs in at
/admin/login; an agent with the admin role arrives signed in through single sign-on). Every POST carries
a CSRF token derived from the session (HMAC), and a cross-site POST is refused outright before it gets here
(callbridge.web.security.CrossSiteRequestGuard).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException

from callbridge.auth.credentials import SESSION_PREFIX, principal_for_token
from callbridge.auth.principal import Principal
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.services.audit import Actor
from callbridge.services.configuration import Conflict, TenantSettings, UnknownReference
from callbridge.web.api.audit import actor_of
from callbridge.web.deps import SESSION_COOKIE, ServicesDep
from callbridge.web.errors import InvalidField
from callbridge.web.pages import templates
from callbridge.web.uploads import NotMultipart, UploadTooLarge, upload_form

CSRF_FIELD = "csrf_token"
LOGIN_CSRF_COOKIE = "callbridge_login_csrf"

# (path under /admin/<tenant>/, label): the sections, in the order of the reference integration's setup
SECTIONS: tuple[tuple[str, str], ...] = (
    ("", "Tenant"),
    ("agents", "Agents"),
    ("queues", "Queues & skills"),
    ("console-texts", "Console texts"),
    ("screen-pop", "Screen pop"),
    ("crm", "CRM connection"),
    ("sso", "Single sign-on"),
    ("call-center", "Call center"),
    ("telephony", "Telephony"),
    ("voice", "Voice"),
    ("chat-widget", "Chat widget"),
    ("api-keys", "API keys"),
    ("auto-log", "Auto log"),
    ("audit", "Audit log"),
)


class SignInNeeded(Exception):
    """No (valid) session: go to the sign-in page, then come back."""

    def __init__(self, next_path: str, sign_in_url: str = "") -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.sign_in_url = sign_in_url  # where to sign in instead of the admin sign-in page (e.g. the tenant's SSO)


class PageRefused(Exception):
    """Shown as a page saying why (403 not an admin, 404 no such tenant, 403 bad CSRF token)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def csrf_token_for(session_token: str) -> str:
    """The token a signed-in admin's forms carry: only someone who holds the session can compute it."""
    return hmac.new(session_token.encode(), b"callbridge admin form", hashlib.sha256).hexdigest()


def signed_in(request: Request, svc: ServicesDep) -> tuple[Principal, str]:
    """The principal behind the session cookie (never an API key: those are for machines)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    who = principal_for_token(svc.engine, token, svc.clock.now()) if token.startswith(SESSION_PREFIX) else None
    if who is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(target if request.method == "GET" else request.url.path)
    return who, token


@dataclass
class Page:
    """A signed-in admin on one tenant's pages (or on the tenant list, `tenant` None)."""

    request: Request
    svc: Any
    who: Principal
    actor: Actor
    csrf: str
    tenant: TenantSettings | None = None
    form: FormData = field(default_factory=FormData)
    upload_problem: type[Exception] | None = None  # upload_page: why the form could not be read (nothing done)

    @property
    def tenant_id(self) -> str:
        assert self.tenant is not None
        return self.tenant.id

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        errors: dict[str, str] = context.pop("errors", {})
        zone = ZoneInfo(self.tenant.time_zone) if self.tenant is not None else None
        base = {
            "who": self.who,
            "actor": self.actor,
            "csrf": self.csrf,
            "csrf_field": CSRF_FIELD,
            "tenant": self.tenant,
            "sections": SECTIONS,
            "errors": errors,
            "err": lambda name: errors.get(name, ""),
            "errs": lambda prefix: [m for k, m in errors.items() if k == prefix or k.startswith(prefix + ".")],
            "when": lambda at: _when(at, zone),
            "done": self.request.query_params.get("done", ""),
        }
        return templates.TemplateResponse(self.request, f"admin/{template}", {**base, **context}, status_code=status)

    def back(self, path: str, done: str = "") -> RedirectResponse:
        """After a successful POST: to a page of this tenant (POST/redirect/GET), saying what was done."""
        suffix = f"?done={quote(done)}" if done else ""
        return RedirectResponse(f"/admin/{self.tenant_id}/{path}".rstrip("/") + "/" * (not path) + suffix, 303)


def _when(at: float | None, zone: ZoneInfo | None) -> str:
    if at is None:
        return ""
    moment = datetime.fromtimestamp(at, zone or ZoneInfo("UTC"))
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")


async def _checked_form(request: Request, csrf: str) -> FormData:
    if request.method != "POST":
        return FormData()
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf):
        raise PageRefused(
            403, "This form has expired or was sent from another site. Reload the page and submit it again."
        )
    return form


def _tenant_admin(tenant_id: str, request: Request, svc: ServicesDep) -> tuple[Principal, str, Actor, Any]:
    """Blocking (database reads): who is signed in, checked as an admin of `tenant_id`, and the tenant."""
    who, token = signed_in(request, svc)
    if who.tenant_id not in (None, tenant_id):
        raise PageRefused(404, f"There is no tenant {tenant_id!r}.")
    if not who.is_admin_of(tenant_id):
        raise PageRefused(403, "Only an admin of this tenant may use the admin pages.")
    try:
        tenant = svc.configuration.get_tenant(tenant_id)
    except NotFound:
        raise PageRefused(404, f"There is no tenant {tenant_id!r}.") from None
    return who, token, actor_of(svc.engine, who), tenant


def _any_admin(request: Request, svc: ServicesDep) -> tuple[Principal, str, Actor]:
    """Blocking (database reads): who is signed in, checked as an admin of some tenant."""
    who, token = signed_in(request, svc)
    if who.tenant_id is not None and not who.is_admin_of(who.tenant_id):
        raise PageRefused(403, "Only admins may use the admin pages.")
    return who, token, actor_of(svc.engine, who)


async def tenant_page(tenant_id: str, request: Request, svc: ServicesDep) -> Page:
    """The signed-in admin of `tenant_id` (404 for another tenant's agent, as the API does)."""
    who, token, actor, tenant = await run_in_threadpool(_tenant_admin, tenant_id, request, svc)
    csrf = csrf_token_for(token)
    form = await _checked_form(request, csrf)
    return Page(request, svc, who, actor, csrf, tenant, form)


async def any_admin_page(request: Request, svc: ServicesDep) -> Page:
    """Someone who administers at least one tenant (the tenant list)."""
    who, token, actor = await run_in_threadpool(_any_admin, request, svc)
    csrf = csrf_token_for(token)
    form = await _checked_form(request, csrf)
    return Page(request, svc, who, actor, csrf, None, form)


async def upload_page(tenant_id: str, request: Request, svc: Any, limit: int) -> Page:
    """`tenant_page` for a form that uploads a file: the form is read with `limit` enforced as it arrives. When
    it cannot be read (too large, not multipart, malformed) `upload_problem` says which and `form` is empty:
    the CSRF token could not be checked, so the handler changes nothing and shows the page with the error.
    Raises ClientDisconnect when the browser went away."""
    who, token, actor, tenant = await run_in_threadpool(_tenant_admin, tenant_id, request, svc)
    page = Page(request, svc, who, actor, csrf_token_for(token), tenant)
    try:
        form = await upload_form(request, limit)
    except NotMultipart:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            page.upload_problem = NotMultipart
            return page
        form = await request.form()  # a form with no file in it (e.g. a button that removes the file)
    except (UploadTooLarge, MultiPartException) as problem:
        page.upload_problem = type(problem)
        return page
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, page.csrf):
        await form.close()
        raise PageRefused(
            403, "This form has expired or was sent from another site. Reload the page and submit it again."
        )
    page.form = form
    return page


TenantPage = Annotated[Page, Depends(tenant_page)]
AdminPage = Annotated[Page, Depends(any_admin_page)]


# ----------------------------------------------------------------- errors next to fields


def validation_errors(error: ValidationError, values: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Pydantic's errors keyed by dotted field path (`skills.billing`, `allowed_origins.2`)."""
    found: dict[str, str] = {}
    for problem in error.errors():
        location = [str(p) for p in problem.get("loc", ())]
        key = ".".join(location) or "form"
        message = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
        if problem.get("type") == "int_parsing":
            message = "must be a whole number"
        if len(location) == 2 and location[1].isdigit() and values is not None:
            items = values.get(location[0])
            if isinstance(items, Sequence) and not isinstance(items, str) and int(location[1]) < len(items):
                message = f"{items[int(location[1])]!r} {message}"
        found.setdefault(key, message)
    return found


def service_errors(error: Exception) -> dict[str, str]:
    """A service's refusal, next to the field it names (or at the top of the form)."""
    if isinstance(error, Conflict | UnknownReference | InvalidField) and error.field:
        return {error.field: str(error)}
    if isinstance(error, NotFound | InvalidTransition | Conflict | UnknownReference | InvalidField):
        return {"form": str(error)}
    raise error


SERVICE_ERRORS = (Conflict, UnknownReference, InvalidField, NotFound, InvalidTransition)


def lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace(",", "\n").splitlines() if line.strip()]


def text(form: Mapping[str, Any], name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


def install_page_errors(app: FastAPI) -> None:
    async def sign_in(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInNeeded)
        return RedirectResponse(error.sign_in_url or f"/admin/login?next={quote(error.next_path, safe='/')}", 303)

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, PageRefused)
        return templates.TemplateResponse(
            request, "admin/refused.html", {"message": error.message, "status": error.status}, status_code=error.status
        )

    app.add_exception_handler(SignInNeeded, sign_in)
    app.add_exception_handler(PageRefused, refused)
