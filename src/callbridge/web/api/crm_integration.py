"""CRM integration API: screen-pop and auto-log settings, CRM connections, the auto-log outbox,
the full log of an interaction, and the agent's choice of record. The services behind it are wired
by `callbridge.bootstrap` (`CrmIntegration`, at `app.state.crm_integration`)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from callbridge.connectors.base import CrmRecord
from callbridge.domain.errors import NotFound
from callbridge.outbound import DestinationRefused
from callbridge.services import outbox
from callbridge.services.configuration import UnknownReference
from callbridge.services.crm_connections import UnknownConnector
from callbridge.services.crm_integration import CrmIntegration
from callbridge.services.crm_links import link_of, save_link
from callbridge.services.crm_settings import AutoLogSettings, SaveCrmSettings, ScreenPopSettings
from callbridge.services.node import ContactCenterNode
from callbridge.services.operations import ReadAgentIds, ReadInteraction
from callbridge.store import crm_outbox
from callbridge.web.api.audit import acting
from callbridge.web.api.lookups import stored_interaction
from callbridge.web.deps import AgentDep, Services, ServicesDep, TenantAdminDep, TenantSupervisorDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["crm integration"])


def _integration(request: Request) -> CrmIntegration:
    found: CrmIntegration = request.app.state.crm_integration
    return found


# ------------------------------------------------------------------------ settings


async def check_screen_pop(
    integration: CrmIntegration, node: ContactCenterNode, tenant_id: str, body: ScreenPopSettings
) -> None:
    """What the model alone cannot check: a known connector, the tenant's agents (raises naming the field)."""
    if body.crm not in integration.connections.names():
        raise InvalidField(
            f"no connector named {body.crm!r}; one of {', '.join(integration.connections.names())}", "crm"
        )
    if not body.all_agents:
        known = set(await node.perform(tenant_id, ReadAgentIds()))
        unknown = [a for a in body.agent_ids if a not in known]
        if unknown:
            raise UnknownReference(f"no agent {unknown[0]!r} in this tenant", "agent_ids")


def check_auto_log(integration: CrmIntegration, body: AutoLogSettings) -> None:
    if body.crm not in integration.connections.names():
        raise InvalidField(f"no connector named {body.crm!r}", "crm")


@router.get("/tenants/{tenant_id}/screen-pop")
def get_screen_pop(tenant_id: str, request: Request, _who: TenantAdminDep) -> ScreenPopSettings:
    return _integration(request).settings.stored(tenant_id)[0]


@router.put("/tenants/{tenant_id}/screen-pop")
async def put_screen_pop(
    tenant_id: str, body: ScreenPopSettings, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> ScreenPopSettings:
    """Screen pop: on/off, the CRM, which agents, the triggers, the searches, the window (non-console mode)."""
    integration = _integration(request)
    await check_screen_pop(integration, svc.node, tenant_id, body)
    actor = await acting(svc.engine, who)
    await svc.node.perform(tenant_id, SaveCrmSettings(screen_pop=body, now=time.time(), actor=actor))
    return body


@router.get("/tenants/{tenant_id}/auto-log/settings")
def get_auto_log_settings(tenant_id: str, request: Request, _who: TenantAdminDep) -> AutoLogSettings:
    return _integration(request).settings.stored(tenant_id)[1]


@router.put("/tenants/{tenant_id}/auto-log/settings")
async def put_auto_log_settings(
    tenant_id: str, body: AutoLogSettings, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> AutoLogSettings:
    """Auto log per medium (phone, voicemail, chat) and the CRM it writes to."""
    integration = _integration(request)
    check_auto_log(integration, body)
    actor = await acting(svc.engine, who)
    await svc.node.perform(tenant_id, SaveCrmSettings(auto_log=body, now=time.time(), actor=actor))
    return body


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any]
    credentials: dict[str, str] | None = Field(
        default=None,
        description="Write-only; omit to keep the stored ones. The connector's credentials model: for the "
        "built-in CRM and Salesforce client_id, client_secret and, unless the admin page's Connect obtains it, "
        "refresh_token (of the integration user).",
    )


class ConnectionOut(BaseModel):
    crm: str
    config: dict[str, Any]
    has_credentials: bool
    connected: bool = Field(description="An integration user's refresh token is stored")
    connected_as: str = Field(description="Who the integration user is, as the CRM said at Connect ('' if unknown)")
    connected_at: float | None = Field(description="When an admin last pressed Connect (None: never)")
    updated_at: float


@router.put("/tenants/{tenant_id}/crm-connections/{crm}")
async def put_connection(
    tenant_id: str, crm: str, body: ConnectionIn, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> ConnectionOut:
    """Connects the tenant to a CRM. Credentials are stored encrypted and never shown again."""
    connections = _integration(request).connections
    actor = await acting(svc.engine, who)
    try:  # in a worker thread: the URL check resolves host names
        await asyncio.to_thread(
            connections.save, tenant_id, crm, body.config, body.credentials, time.time(), actor=actor
        )
    except UnknownConnector as error:
        raise NotFound("connector", crm) from error
    except DestinationRefused as error:
        raise InvalidField(error.message, f"config.{error.field}") from error
    except ValidationError as error:
        first = error.errors()[0]
        where = (
            "credentials"
            if body.credentials is not None and first["loc"] and str(first["loc"][0]) in (body.credentials)
            else "config"
        )
        field = ".".join([where, *(str(p) for p in first["loc"])])
        raise InvalidField(first["msg"], field) from error
    described = await asyncio.to_thread(connections.describe, tenant_id, crm)
    assert described is not None
    return ConnectionOut(**described)


@router.get("/tenants/{tenant_id}/crm-connections/{crm}")
def get_connection(tenant_id: str, crm: str, request: Request, _who: TenantAdminDep) -> ConnectionOut:
    described = _integration(request).connections.describe(tenant_id, crm)
    if described is None:
        raise NotFound("crm connection", crm)
    return ConnectionOut(**described)


@router.get("/tenants/{tenant_id}/crm-connections/{crm}/problems")
async def check_connection(tenant_id: str, crm: str, request: Request, _who: TenantAdminDep) -> list[dict[str, str]]:
    """What an admin must fix, in words they can act on (empty: all is well)."""
    connector = await _integration(request).connections.get(tenant_id, crm)
    if connector is None:
        raise NotFound("crm connection", crm)
    return [{"code": p.code, "message": p.message} for p in await connector.check_connection()]


# ------------------------------------------------------------------------ outbox


class AutoLogOut(BaseModel):
    interaction_id: str
    crm: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    next_attempt_at: float
    last_error: str
    error_code: str
    activity_id: str
    subject: str
    created_at: float
    updated_at: float


def _auto_log_out(row: Any) -> AutoLogOut:
    return AutoLogOut(
        interaction_id=row.interaction_id,
        crm=row.crm,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        error_code=row.error_code,
        activity_id=row.activity_id,
        subject=str(row.payload.get("subject", "")),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("/tenants/{tenant_id}/auto-log")
def list_auto_logs(
    tenant_id: str,
    svc: ServicesDep,
    _who: TenantAdminDep,
    status: Literal["pending", "sent", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AutoLogOut]:
    """The auto-log outbox, newest first: what waits (`pending`), what an admin must fix (`failed`)."""
    rows = crm_outbox.entries(svc.engine, tenant_id, None if status is None else (status,), limit=limit)
    return [_auto_log_out(r) for r in rows]


@router.post("/tenants/{tenant_id}/auto-log/{interaction_id}/retry")
async def retry_auto_log(
    tenant_id: str, interaction_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> AutoLogOut:
    """After fixing the cause (a permission, a field, the connection): try this log again now."""
    actor = await acting(svc.engine, who)
    if not await run_in_threadpool(outbox.retry, svc.engine, tenant_id, interaction_id, time.time(), actor):
        row = await run_in_threadpool(_outbox_row, svc.engine, tenant_id, interaction_id)
        if row is None:
            raise NotFound("auto log", interaction_id)
        return _auto_log_out(row)  # already sent: nothing to do
    await _integration(request).relay.wake()
    row = await run_in_threadpool(_outbox_row, svc.engine, tenant_id, interaction_id)
    assert row is not None
    return _auto_log_out(row)


def _outbox_row(engine: Engine, tenant_id: str, interaction_id: str) -> Any:
    return crm_outbox.entry(engine, tenant_id, interaction_id)


class InteractionLogOut(BaseModel):
    interaction_id: str
    status: str
    activity_id: str
    subject: str
    comments: str  # the full log, never cut
    notes: str
    transcript: list[dict[str, Any]]
    link: dict[str, str] | None
    payload: dict[str, Any]


@router.get("/tenants/{tenant_id}/interactions/{interaction_id}/log")
def interaction_log(
    tenant_id: str, interaction_id: str, svc: ServicesDep, _who: TenantSupervisorDep
) -> InteractionLogOut:
    """The full auto log Callbridge keeps, whatever the CRM could store."""
    row = _outbox_row(svc.engine, tenant_id, interaction_id)
    if row is None:
        raise NotFound("interaction log", interaction_id)
    payload = dict(row.payload)
    return InteractionLogOut(
        interaction_id=interaction_id,
        status=row.status,
        activity_id=row.activity_id,
        subject=str(payload.get("subject", "")),
        comments=str(payload.get("comments", "")),
        notes=str(payload.get("notes", "")),
        transcript=list(payload.get("transcript", [])),
        link=payload.get("link"),
        payload=payload,
    )


# ------------------------------------------------------------------------ the agent's record


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object_type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    record_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(max_length=300)] = ""


async def _held_by(svc: Services, tenant_id: str, interaction_id: str, agent_id: str) -> bool:
    """Whether the interaction is (or was, once ended) this agent's: colleagues' records are not theirs to read."""

    view = await svc.node.perform(tenant_id, ReadInteraction(interaction_id=interaction_id, missing_ok=True))
    live, holder_id = view is not None, view.agent_id if view is not None else None
    if not live:
        row = await stored_interaction(svc, tenant_id, interaction_id)
        holder_id = row.agent_id if row is not None else None
    return holder_id is not None and holder_id == agent_id


@router.put("/me/interactions/{interaction_id}/crm-record", status_code=204)
async def choose_record(interaction_id: str, body: RecordIn, svc: ServicesDep, who: AgentDep) -> Response:
    """The record the agent chose (e.g. one of several search results): auto log links the activity to it."""
    tenant_id = who.tenant_id
    assert tenant_id is not None

    mine = ReadInteraction(interaction_id=interaction_id, of_agent=who.subject_id, missing_ok=True)
    if await svc.node.perform(tenant_id, mine) is None:
        raise NotFound("interaction", interaction_id)
    record = CrmRecord(object_type=body.object_type, record_id=body.record_id, name=body.name)
    await run_in_threadpool(save_link, svc.engine, tenant_id, interaction_id, record, "chosen", time.time())
    return Response(status_code=204)


@router.get("/me/interactions/{interaction_id}/crm-record")
async def my_record(interaction_id: str, svc: ServicesDep, who: AgentDep) -> RecordIn | None:
    """The CRM record your interaction is linked to (null until the screen pop or you choose one).
    404 for an interaction that is not, and never was, yours."""
    tenant_id = who.tenant_id
    assert tenant_id is not None
    if not await _held_by(svc, tenant_id, interaction_id, who.subject_id):
        raise NotFound("interaction", interaction_id)

    record = await asyncio.to_thread(link_of, svc.engine, tenant_id, interaction_id)
    if record is None:
        return None
    return RecordIn(object_type=record.object_type, record_id=record.record_id, name=record.name)
