"""The audit log API, and who a request's principal is in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from callbridge.auth.principal import Principal
from callbridge.services.audit import Actor, list_entries
from callbridge.store.actors import actor_name
from callbridge.web.api.schemas import DB_INT_MAX
from callbridge.web.deps import ServicesDep, TenantAdminDep
from callbridge.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["audit log"])


def actor_of(engine: Engine, who: Principal) -> Actor:
    """The audit log's name for who is acting: e-mail of an admin or agent, name of an API key."""
    name = actor_name(engine, who.kind.value, who.tenant_id, who.subject_id)
    return Actor(who.kind.value, who.subject_id, name or who.subject_id)


async def acting(engine: Engine, who: Principal) -> Actor:
    """`actor_of` for `async def` routes: the name is read in a worker thread, off the event loop."""
    return await run_in_threadpool(actor_of, engine, who)


class ActorOut(BaseModel):
    kind: str = Field(description="local_admin, agent, api_key or system")
    id: str
    name: str = Field(description="E-mail of an admin or agent, name of an API key")


class AuditEntryOut(BaseModel):
    id: int
    at: float = Field(description="Seconds since the epoch (UTC)")
    actor: ActorOut
    action: str = Field(description="e.g. agent.created, queue.updated, api_key.revoked")
    target_type: str
    target_id: str
    changes: dict[str, dict[str, Any]] = Field(
        description='{field: {"before": value, "after": value}} for the fields that changed; secrets never appear'
    )


def _seconds(value: datetime | None) -> float | None:
    """A time without an offset is taken as UTC."""
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


@router.get("/tenants/{tenant_id}/audit-log")
def audit_log(
    tenant_id: str,
    svc: ServicesDep,
    _who: TenantAdminDep,
    actor: Annotated[str, Query(max_length=320, description="Actor id, or part of their e-mail or name")] = "",
    target_type: Annotated[str, Query(max_length=32, description="e.g. agent, queue, tenant, api_key")] = "",
    target_id: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[datetime | None, Query(description="ISO 8601 date-time with a UTC offset")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 date-time with a UTC offset (excluded)")] = None,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=DB_INT_MAX, description="Next page: the id of the last entry of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    """Who changed what, newest first."""
    svc.configuration.get_tenant(tenant_id)
    entries = list_entries(
        svc.engine,
        tenant_id,
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        since=_seconds(since),
        until=_seconds(until),
        before_id=before_id,
        limit=limit,
    )
    return [
        AuditEntryOut(
            id=e.id,
            at=e.at,
            actor=ActorOut(kind=e.actor.kind, id=e.actor.id, name=e.actor.name),
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            changes={k: dict(v) for k, v in e.changes.items()},
        )
        for e in entries
    ]
