"""Request dependencies: the services, and who is calling.

Credentials come from `Authorization: Bearer <token>` (sessions `cbs_…`, API
keys `cbk_…`) or, for browsers, the session cookie. The tenant always comes
from the credential, never from a client-supplied header; a path's tenant
must match it (else 404, as if it did not exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from callbridge.auth.credentials import TicketBook, cached_principal_for_token, recent_principal
from callbridge.auth.principal import Principal, PrincipalKind
from callbridge.config import Settings
from callbridge.services.clock import Clock
from callbridge.services.configuration import ConfigurationService
from callbridge.services.node import ContactCenterNode
from callbridge_ratelimit import RateLimits

SESSION_COOKIE = "callbridge_session"

bearer = HTTPBearer(auto_error=False, description="A session token (cbs_…) or a tenant API key (cbk_…)")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    clock: Clock
    node: ContactCenterNode
    configuration: ConfigurationService
    tickets: TicketBook
    rate_limits: RateLimits  # callbridge.web.rate_limits


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def principal(request: Request, credentials: BearerDep) -> Principal:
    """Who is calling. The role checks below call it themselves rather than depend on it: FastAPI solves every
    dependency of every request anew, and each one it does not have to solve is CPU saved on the busiest routes."""
    token = credentials.credentials if credentials is not None else request.cookies.get(SESSION_COOKIE, "")
    return await principal_for(request, token)


def presented_token(connection: HTTPConnection) -> str:
    """The credential a request presents, read as `bearer` and `principal` read it: `Authorization: Bearer …`
    (any case), else the session cookie; "" when there is none. For routes served without FastAPI's
    dependencies (callbridge.web.api.busiest)."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme and token and scheme.lower() == "bearer":
        return token
    return connection.cookies.get(SESSION_COOKIE, "")


async def principal_for(connection: HTTPConnection, token: str) -> Principal:
    """The principal `token` belongs to (401 when there is none); an agent's request counts as a sign of life."""
    svc: Services = connection.app.state.services
    if not token:
        raise HTTPException(401, "sign in first: send a session token or an API key as 'Authorization: Bearer …'")
    now = svc.clock.now()
    found = recent_principal(token, now) or await run_in_threadpool(cached_principal_for_token, svc.engine, token, now)
    if found is None:
        raise HTTPException(401, "the credentials are unknown, expired or revoked: sign in again or ask for a new key")
    if found.kind is PrincipalKind.AGENT and found.tenant_id is not None:
        svc.node.seen(found.tenant_id, found.subject_id)
    # every log line of this request carries who and which tenant (see callbridge.logging)
    structlog.contextvars.bind_contextvars(tenant_id=found.tenant_id, principal=f"{found.kind}:{found.subject_id}")
    return found


PrincipalDep = Annotated[Principal, Depends(principal)]


def _known_tenant(tenant_id: str, who: Principal, svc: Services) -> None:
    """A tenant-bound caller sees only its own tenant; a Callbridge administrator only tenants that exist."""
    if who.tenant_id not in (None, tenant_id) or not svc.node.has_tenant(tenant_id):
        raise HTTPException(404, f"tenant {tenant_id!r} does not exist")


async def tenant_admin(tenant_id: str, request: Request, credentials: BearerDep) -> Principal:
    who = await principal(request, credentials)
    _known_tenant(tenant_id, who, request.app.state.services)
    if not who.is_admin_of(tenant_id):
        raise HTTPException(403, "only an admin of this tenant may do this")
    return who


async def tenant_supervisor(tenant_id: str, request: Request, credentials: BearerDep) -> Principal:
    who = await principal(request, credentials)
    _known_tenant(tenant_id, who, request.app.state.services)
    if not who.is_supervisor_of(tenant_id):
        raise HTTPException(403, "only supervisors and admins of this tenant may see this")
    return who


async def local_admin(request: Request, credentials: BearerDep) -> Principal:
    who = await principal(request, credentials)
    if who.kind is not PrincipalKind.LOCAL_ADMIN:
        raise HTTPException(403, "only a Callbridge administrator (callbridge admin create) may do this")
    return who


async def agent(request: Request, credentials: BearerDep) -> Principal:
    return an_agent(await principal(request, credentials))


async def integration(request: Request, credentials: BearerDep) -> Principal:
    return an_integration(await principal(request, credentials))


def an_agent(who: Principal) -> Principal:
    if who.kind is not PrincipalKind.AGENT:
        raise HTTPException(403, "this is for signed-in agents: sign in through your CRM first")
    return who


def an_integration(who: Principal) -> Principal:
    if who.kind is not PrincipalKind.API_KEY:
        raise HTTPException(403, "this is for telephony and chat integrations: use a tenant API key")
    return who


TenantAdminDep = Annotated[Principal, Depends(tenant_admin)]
TenantSupervisorDep = Annotated[Principal, Depends(tenant_supervisor)]
LocalAdminDep = Annotated[Principal, Depends(local_admin)]
AgentDep = Annotated[Principal, Depends(agent)]
IntegrationDep = Annotated[Principal, Depends(integration)]
