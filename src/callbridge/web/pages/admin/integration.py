"""CRM integration pages: single sign-on (settings, launch URLs, warnings), auto-log delivery (pending and failed
logs, retry) and "Manage call center users". The screen-pop and CRM connection pages are in screen_pop.py and crm.py.

These call the services behind the SSO and CRM-integration APIs (web/sso.py, web/api/crm_integration.py).
Changes are written to the audit log by the services themselves (given the page's actor), exactly as
through the REST API.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from callbridge.auth.oidc import ProviderKind
from callbridge.connectors.base import CrmError
from callbridge.domain.model import Channel, Role
from callbridge.services import outbox
from callbridge.services.configuration import profile_from_input
from callbridge.services.operations import SaveAgent
from callbridge.store import crm_outbox
from callbridge.web.api.schemas import AgentIn
from callbridge.web.pages.admin.agents import shared_emails
from callbridge.web.pages.admin.common import SERVICE_ERRORS, TenantPage, service_errors, text, validation_errors
from callbridge.web.sso import SsoSettingsIn, redirect_uri, sso_service

router = APIRouter(include_in_schema=False)


def _integration(page: TenantPage) -> Any:
    return getattr(page.request.app.state, "crm_integration", None)


# -------------------------------------------------------------------- single sign-on

SSO_FIELDS = (
    "kind",
    "client_id",
    "display_name",
    "issuer",
    "discovery_url",
    "login_host",
    "sandbox_login_host",
    "scope",
)


def _sso_values(page: TenantPage) -> dict[str, Any] | None:
    config = sso_service(page.request).provider(page.tenant_id)
    if config is None:
        return None
    values = {f: getattr(config, f) for f in SSO_FIELDS}
    values["kind"] = config.kind.value
    values["client_secret_set"] = config.client_secret is not None
    return values


def _sso_page(page: TenantPage, values: dict[str, Any] | None, errors: dict[str, str] | None = None) -> Response:
    base = page.svc.settings.effective_public_url()
    launch = f"{base}/sso/login?tenant={page.tenant_id}"
    return page.render(
        "sso.html",
        422 if errors else 200,
        section="sso",
        values=values or {"kind": "builtin_crm", "client_secret_set": False},
        configured=values is not None,
        errors=errors or {},
        launch_url=launch,
        sandbox_launch_url=f"{launch}&sandbox=true",
        redirect_uri=redirect_uri(page.svc),
        warnings=sso_service(page.request).warnings(page.tenant_id),
        kinds=[k.value for k in ProviderKind],
    )


@router.get("/admin/{tenant_id}/sso")
def single_sign_on(page: TenantPage) -> Response:
    return _sso_page(page, _sso_values(page))


@router.post("/admin/{tenant_id}/sso")
def save_single_sign_on(page: TenantPage) -> Response:
    values: dict[str, Any] = {f: text(page.form, f) for f in SSO_FIELDS}
    secret = str(page.form.get("client_secret", ""))
    before = _sso_values(page)
    try:
        body = SsoSettingsIn.model_validate(
            {**values, "client_secret": "" if page.form.get("remove_secret") == "on" else (secret or None)}
        )
        sso_service(page.request).configure(
            page.tenant_id,
            body.provider_settings(),
            actor=page.actor,
        )
    except ValidationError as error:
        return _sso_page(
            page,
            {**values, "client_secret_set": bool(before and before["client_secret_set"])},
            validation_errors(error),
        )
    except ValueError as error:
        field, _, message = str(error).partition(": ")
        errors = {field: message} if message and field in SSO_FIELDS else {"form": str(error)}
        return _sso_page(page, {**values, "client_secret_set": bool(before and before["client_secret_set"])}, errors)
    return page.back("sso", "sso_saved")


# -------------------------------------------------------------------- auto log


def _auto_log_page(page: TenantPage, status: int = 200, **context: Any) -> Response:
    rows = crm_outbox.entries(page.svc.engine, page.tenant_id, ("pending", "failed"), limit=200)
    return page.render("auto_log.html", status, section="auto-log", logs=rows, **context)


@router.get("/admin/{tenant_id}/auto-log")
def auto_log(page: TenantPage) -> Response:
    return _auto_log_page(page)


@router.post("/admin/{tenant_id}/auto-log/{interaction_id}/retry")
async def retry_auto_log(page: TenantPage, interaction_id: str) -> Response:
    retried = await run_in_threadpool(
        outbox.retry, page.svc.engine, page.tenant_id, interaction_id, time.time(), page.actor
    )
    if not retried:
        errors = {"logs": f"No pending or failed log for {interaction_id!r}."}
        return await run_in_threadpool(functools.partial(_auto_log_page, page, 404, errors=errors))
    integration = _integration(page)
    if integration is not None:
        await integration.relay.wake()
    return page.back("auto-log", "auto_log_retried")


# -------------------------------------------------------------------- manage call center users


def _agent_id_for(email: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "", email.split("@")[0])[:56] or "agent"
    base = base if base[0].isalnum() else f"a{base}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    taken.add(candidate)
    return candidate


async def _crm_users(page: TenantPage, query: str) -> tuple[str, list[Any], str]:
    integration = _integration(page)
    if integration is None:
        return "", [], "The CRM integration is not running on this server."
    crm = (await asyncio.to_thread(integration.settings.stored, page.tenant_id))[0].crm
    try:
        connector = await integration.connections.get(page.tenant_id, crm)
        if connector is None:
            return crm, [], f"No {crm} connection is saved: set it up under CRM connection first."
        return crm, list(await connector.list_users(query)), ""
    except CrmError as error:
        return crm, [], f"The CRM refused: {error}"


@router.get("/admin/{tenant_id}/agents/crm-users")
async def crm_users(page: TenantPage, q: str = "") -> Response:
    crm, users, problem = await _crm_users(page, q)
    rows = await page.svc.configuration.list_agent_rows(page.tenant_id)
    used = {r.email.strip().lower(): r.id for r in rows}
    return page.render(
        "crm_users.html", section="agents", crm=crm, users=users, problem=problem, used=used, q=q, results=[]
    )


@router.post("/admin/{tenant_id}/agents/crm-users")
async def add_crm_users(page: TenantPage) -> Response:
    """Adds the ticked CRM users as agents (e-mail and name from the CRM), in one step."""
    picked = [u for u in page.form.getlist("user") if isinstance(u, str)]
    taken = {r.id for r in await page.svc.configuration.list_agent_rows(page.tenant_id)}
    results: list[tuple[str, str]] = []
    for user_id in picked:
        email, name = text(page.form, f"email:{user_id}"), text(page.form, f"name:{user_id}") or user_id
        agent_id = _agent_id_for(email, taken)
        capacity = {Channel.PHONE: 1, Channel.CHAT: 3, Channel.VOICEMAIL: 1}
        try:
            body = AgentIn.model_validate({"id": agent_id, "email": email, "display_name": name[:200]})
            profile = profile_from_input(
                agent_id, body.email, body.display_name, [Role.AGENT.value], {}, capacity, [], True
            )
            save = SaveAgent(profile=profile, auto_login=True, create=True, actor=page.actor)
            await page.svc.node.perform(page.tenant_id, save)
            results.append((email, f"added as agent {agent_id}"))
        except ValidationError as error:
            results.append((email or user_id, "not added: " + "; ".join(validation_errors(error).values())))
        except SERVICE_ERRORS as error:
            results.append((email or user_id, "not added: " + "; ".join(service_errors(error).values())))
    rows = await page.svc.configuration.list_agent_rows(page.tenant_id)
    crm, users, problem = await _crm_users(page, "")
    return page.render(
        "crm_users.html",
        section="agents",
        crm=crm,
        users=users,
        problem=problem,
        used={r.email.strip().lower(): r.id for r in rows},
        shared=shared_emails(rows),
        q="",
        results=results,
    )
