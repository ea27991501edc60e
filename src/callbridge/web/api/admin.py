"""Admin API: tenants, skills, queues, agents, API keys; and the supervisors' snapshot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from starlette.concurrency import run_in_threadpool

from callbridge.auth.credentials import create_api_key, revoke_api_key
from callbridge.auth.principal import Principal, PrincipalKind
from callbridge.realtime.wire import Snapshot
from callbridge.services.configuration import TenantSettings, profile_from_input
from callbridge.services.operations import (
    DeleteAgent,
    DeleteQueue,
    DeleteSkill,
    GetQueue,
    ListQueues,
    ReadSnapshot,
    SaveAgent,
    SaveQueue,
)
from callbridge.store.api_keys import list_keys
from callbridge.web.api.audit import acting, actor_of
from callbridge.web.api.schemas import (
    AgentIn,
    AgentOut,
    AgentUpdate,
    ApiKeyIn,
    ApiKeyOut,
    NewApiKeyOut,
    QueueIn,
    QueueOut,
    QueueUpdate,
    SkillIn,
    SkillOut,
    TenantIn,
    TenantOut,
    TenantUpdate,
)
from callbridge.web.deps import LocalAdminDep, PrincipalDep, ServicesDep, TenantAdminDep, TenantSupervisorDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


def _tenant_out(t: TenantSettings) -> TenantOut:
    return TenantOut(
        id=t.id,
        name=t.name,
        time_zone=t.time_zone,
        phone_region=t.phone_region,
        allowed_origins=list(t.allowed_origins),
    )


# -------------------------------------------------------------------- tenants


@router.post("/tenants", status_code=201, tags=["tenants"])
def create_tenant(body: TenantIn, svc: ServicesDep, who: LocalAdminDep) -> TenantOut:
    tenant = TenantSettings(body.id, body.name, body.time_zone, body.phone_region, body.allowed_origins)
    svc.configuration.create_tenant(tenant, actor=actor_of(svc.engine, who))
    return _tenant_out(tenant)


@router.get("/tenants", tags=["tenants"])
def list_tenants(svc: ServicesDep, who: PrincipalDep) -> list[TenantOut]:
    if who.kind is PrincipalKind.LOCAL_ADMIN:
        return [_tenant_out(t) for t in svc.configuration.list_tenants()]
    if who.tenant_id is not None and who.is_admin_of(who.tenant_id):
        return [_tenant_out(t) for t in svc.configuration.list_tenants(only=who.tenant_id)]
    raise HTTPException(403, "only admins may list tenants")


@router.get("/tenants/{tenant_id}", tags=["tenants"])
def get_tenant(tenant_id: str, svc: ServicesDep, _who: TenantAdminDep) -> TenantOut:
    return _tenant_out(svc.configuration.get_tenant(tenant_id))


@router.put("/tenants/{tenant_id}", tags=["tenants"])
def update_tenant(tenant_id: str, body: TenantUpdate, svc: ServicesDep, who: TenantAdminDep) -> TenantOut:
    if body.id not in (None, tenant_id):
        raise InvalidField("a tenant's id cannot change", "id")
    tenant = TenantSettings(tenant_id, body.name, body.time_zone, body.phone_region, body.allowed_origins)
    svc.configuration.update_tenant(tenant, actor=actor_of(svc.engine, who))
    return _tenant_out(tenant)


# --------------------------------------------------------------------- skills


@router.get("/tenants/{tenant_id}/skills", tags=["skills"])
async def list_skills(tenant_id: str, svc: ServicesDep, _who: TenantAdminDep) -> list[SkillOut]:
    await run_in_threadpool(svc.configuration.get_tenant, tenant_id)  # an unknown tenant is 404, not an empty list
    return [SkillOut(**s) for s in await svc.configuration.list_skills(tenant_id)]


@router.post("/tenants/{tenant_id}/skills", status_code=201, tags=["skills"])
async def create_skill(tenant_id: str, body: SkillIn, svc: ServicesDep, who: TenantAdminDep) -> SkillOut:
    await run_in_threadpool(svc.configuration.get_tenant, tenant_id)
    await svc.configuration.create_skill(tenant_id, body.name, body.description, actor=await acting(svc.engine, who))
    return SkillOut(name=body.name, description=body.description)


@router.delete("/tenants/{tenant_id}/skills/{name}", status_code=204, tags=["skills"])
async def delete_skill(tenant_id: str, name: str, svc: ServicesDep, who: TenantAdminDep) -> Response:
    await svc.node.perform(tenant_id, DeleteSkill(skill=name, actor=await acting(svc.engine, who)))
    return Response(status_code=204)


# --------------------------------------------------------------------- queues


@router.get("/tenants/{tenant_id}/queues", tags=["queues"])
async def list_queues(tenant_id: str, svc: ServicesDep, _who: TenantAdminDep) -> list[QueueOut]:
    return [QueueOut.of(q) for q in await svc.node.perform(tenant_id, ListQueues())]


@router.post("/tenants/{tenant_id}/queues", status_code=201, tags=["queues"])
async def create_queue(tenant_id: str, body: QueueIn, svc: ServicesDep, who: TenantAdminDep) -> QueueOut:
    queue = body.to_queue(body.id)
    await svc.node.perform(tenant_id, SaveQueue(queue=queue, create=True, actor=await acting(svc.engine, who)))
    return QueueOut.of(queue)


@router.get("/tenants/{tenant_id}/queues/{queue_id}", tags=["queues"])
async def get_queue(tenant_id: str, queue_id: str, svc: ServicesDep, _who: TenantAdminDep) -> QueueOut:
    return QueueOut.of(await svc.node.perform(tenant_id, GetQueue(queue_id=queue_id)))


@router.put("/tenants/{tenant_id}/queues/{queue_id}", tags=["queues"])
async def update_queue(
    tenant_id: str, queue_id: str, body: QueueUpdate, svc: ServicesDep, who: TenantAdminDep
) -> QueueOut:
    if body.id not in (None, queue_id):
        raise InvalidField("a queue's id cannot change", "id")
    queue = body.to_queue(queue_id)
    await svc.node.perform(tenant_id, SaveQueue(queue=queue, create=False, actor=await acting(svc.engine, who)))
    return QueueOut.of(queue)


@router.delete("/tenants/{tenant_id}/queues/{queue_id}", status_code=204, tags=["queues"])
async def delete_queue(tenant_id: str, queue_id: str, svc: ServicesDep, who: TenantAdminDep) -> Response:
    await svc.node.perform(tenant_id, DeleteQueue(queue_id=queue_id, actor=await acting(svc.engine, who)))
    return Response(status_code=204)


# --------------------------------------------------------------------- agents


def _agent_out(row: Any) -> AgentOut:
    return AgentOut(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        roles=list(row.roles),
        skills=dict(row.skills),
        capacity=dict(row.capacity),
        queue_ids=list(row.queue_ids),
        enabled=row.enabled,
        auto_login=row.auto_login,
        status=row.status,
        status_reason=row.status_reason,
        status_since=row.status_since,
    )


@router.get("/tenants/{tenant_id}/agents", tags=["agents"])
async def list_agents(tenant_id: str, svc: ServicesDep, _who: TenantAdminDep) -> list[AgentOut]:
    await run_in_threadpool(svc.configuration.get_tenant, tenant_id)
    return [_agent_out(r) for r in await svc.configuration.list_agent_rows(tenant_id)]


@router.post("/tenants/{tenant_id}/agents", status_code=201, tags=["agents"])
async def create_agent(tenant_id: str, body: AgentIn, svc: ServicesDep, who: TenantAdminDep) -> AgentOut:
    await _save_agent(svc, tenant_id, body, body.id, create=True, who=who)
    return _agent_out(await svc.configuration.get_agent_row(tenant_id, body.id))


@router.get("/tenants/{tenant_id}/agents/{agent_id}", tags=["agents"])
async def get_agent(tenant_id: str, agent_id: str, svc: ServicesDep, _who: TenantAdminDep) -> AgentOut:
    return _agent_out(await svc.configuration.get_agent_row(tenant_id, agent_id))


@router.put("/tenants/{tenant_id}/agents/{agent_id}", tags=["agents"])
async def update_agent(
    tenant_id: str, agent_id: str, body: AgentUpdate, svc: ServicesDep, who: TenantAdminDep
) -> AgentOut:
    if body.id not in (None, agent_id):
        raise InvalidField("an agent's id cannot change", "id")
    await _save_agent(svc, tenant_id, body, agent_id, create=False, who=who)
    return _agent_out(await svc.configuration.get_agent_row(tenant_id, agent_id))


@router.delete("/tenants/{tenant_id}/agents/{agent_id}", status_code=204, tags=["agents"])
async def delete_agent(tenant_id: str, agent_id: str, svc: ServicesDep, who: TenantAdminDep) -> Response:
    await svc.node.perform(tenant_id, DeleteAgent(agent_id=agent_id, actor=await acting(svc.engine, who)))
    return Response(status_code=204)


async def _save_agent(
    svc: ServicesDep, tenant_id: str, body: AgentIn, agent_id: str, *, create: bool, who: Principal
) -> None:
    profile = profile_from_input(
        agent_id,
        body.email,
        body.display_name,
        body.roles,
        body.skills,
        body.capacity,
        body.queue_ids,
        body.enabled,
    )
    actor = await acting(svc.engine, who)
    await svc.node.perform(
        tenant_id, SaveAgent(profile=profile, auto_login=body.auto_login, create=create, actor=actor)
    )


# ------------------------------------------------------------------- API keys


@router.get("/tenants/{tenant_id}/api-keys", tags=["api keys"])
def list_api_keys(tenant_id: str, svc: ServicesDep, _who: TenantAdminDep) -> list[ApiKeyOut]:
    svc.configuration.get_tenant(tenant_id)
    rows = list_keys(svc.engine, tenant_id)
    return [
        ApiKeyOut(id=r.id, name=r.name, prefix=r.prefix, created_at=r.created_at, revoked_at=r.revoked_at) for r in rows
    ]


@router.post("/tenants/{tenant_id}/api-keys", status_code=201, tags=["api keys"])
def create_key(tenant_id: str, body: ApiKeyIn, svc: ServicesDep, who: TenantAdminDep) -> NewApiKeyOut:
    svc.configuration.get_tenant(tenant_id)
    key = create_api_key(svc.engine, tenant_id, body.name, svc.clock.now(), actor=actor_of(svc.engine, who))
    return NewApiKeyOut(id=key.id, name=key.name, prefix=key.prefix, secret=key.secret)


@router.delete("/tenants/{tenant_id}/api-keys/{key_id}", status_code=204, tags=["api keys"])
def revoke_key(tenant_id: str, key_id: str, svc: ServicesDep, who: TenantAdminDep) -> Response:
    if not revoke_api_key(svc.engine, tenant_id, key_id, svc.clock.now(), actor=actor_of(svc.engine, who)):
        raise HTTPException(404, f"API key {key_id!r} does not exist or is already revoked")
    return Response(status_code=204)


# ------------------------------------------------------------------- snapshot


@router.get("/tenants/{tenant_id}/snapshot", tags=["monitoring"])
async def tenant_snapshot(tenant_id: str, svc: ServicesDep, _who: TenantSupervisorDep) -> dict[str, Any]:
    """Queues with waiting count and longest wait; agents with status and time in status."""
    found: Snapshot = await svc.node.perform(tenant_id, ReadSnapshot(agent_id=None))
    now = svc.clock.now()
    view = found.model_dump()
    for queue in view["queues"].values():
        oldest = queue["oldest_enqueued_at"]
        queue["longest_wait_seconds"] = round(now - oldest, 3) if oldest is not None else 0.0
    for agent in view["agents"].values():
        agent["seconds_in_status"] = round(now - agent["since"], 3)
    view["at"] = now
    return view
