"""Configuration use cases: tenants, skills, queues, agents, API keys.

Queues and agents live both in the database and in the running
ContactCenter; changes to them go through the node so that the row and the
routing state change in the same transaction and in order with commands.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from callbridge.auth.credentials import forget_principals
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.domain.events import Event
from callbridge.domain.model import AgentProfile, Channel, Queue, Role
from callbridge.services.audit import SYSTEM, Actor
from callbridge.services.node import ContactCenterNode, Refusal
from callbridge.store import agents as agent_rows
from callbridge.store import queues as queue_rows
from callbridge.store import skills as skill_rows
from callbridge.store import tenants as tenant_rows


class Conflict(Refusal):
    """The change clashes with existing data (e.g. an id already in use)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class InvalidField(Refusal):
    """A value the schema accepts but a rule refuses (e.g. an id that cannot change): 422 naming the field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownReference(Refusal):
    """The change refers to something that does not exist (a skill, a queue)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class TenantSettings:
    id: str
    name: str
    time_zone: str
    phone_region: str
    allowed_origins: Sequence[str]


class ConfigurationService:
    def __init__(self, engine: Engine, node: ContactCenterNode) -> None:
        self.engine = engine
        self.node = node
        node.provide(ConfigurationService, self)

    # ------------------------------------------------------------------ tenants

    def create_tenant(self, tenant: TenantSettings, *, actor: Actor = SYSTEM) -> None:
        values = {"id": tenant.id, **_tenant_fields(tenant), "settings": {}, "created_at": time.time()}
        if not tenant_rows.create(self.engine, values, actor=actor, audited=_tenant_fields(tenant)):
            raise Conflict(f"tenant {tenant.id!r} already exists", "id")
        self.node.add_tenant(tenant.id)

    def update_tenant(self, tenant: TenantSettings, *, actor: Actor = SYSTEM) -> None:
        if not tenant_rows.update(self.engine, tenant.id, _tenant_fields(tenant), actor=actor):
            raise NotFound("tenant", tenant.id)

    def get_tenant(self, tenant_id: str) -> TenantSettings:
        row = tenant_rows.find(self.engine, tenant_id)
        if row is None:
            raise NotFound("tenant", tenant_id)
        return TenantSettings(row.id, row.name, row.time_zone, row.phone_region, list(row.allowed_origins))

    def list_tenants(self, only: str | None = None) -> list[TenantSettings]:
        rows = tenant_rows.every(self.engine, only)
        return [TenantSettings(r.id, r.name, r.time_zone, r.phone_region, list(r.allowed_origins)) for r in rows]

    # ------------------------------------------------------------------- skills

    async def list_skills(self, tenant_id: str) -> list[dict[str, str]]:
        return await asyncio.to_thread(self._list_skills, tenant_id)

    def _list_skills(self, tenant_id: str) -> list[dict[str, str]]:
        return skill_rows.of_tenant(self.engine, tenant_id)

    async def create_skill(self, tenant_id: str, name: str, description: str, *, actor: Actor = SYSTEM) -> None:
        await asyncio.to_thread(self._create_skill, tenant_id, name, description, actor)

    def _create_skill(self, tenant_id: str, name: str, description: str, actor: Actor) -> None:
        if not skill_rows.create(self.engine, tenant_id, name, description, actor=actor):
            raise Conflict(f"skill {name!r} already exists", "name")

    async def delete_skill(self, tenant_id: str, name: str, *, actor: Actor = SYSTEM) -> None:
        def users(cc: ContactCenter) -> list[str]:
            used_by = [f"queue {q.id!r}" for q in cc.queues.values() if name in q.required_skills]
            used_by += [f"agent {a.id!r}" for a in cc.agents.values() if name in a.profile.skills]
            return used_by

        used_by = await self.node.read(tenant_id, users)
        if used_by:
            raise Conflict(f"skill {name!r} is still used by {', '.join(used_by[:5])}: remove it there first", "name")
        if not await asyncio.to_thread(self._delete_skill_row, tenant_id, name, actor):
            raise NotFound("skill", name)

    def _delete_skill_row(self, tenant_id: str, name: str, actor: Actor) -> bool:
        return skill_rows.remove(self.engine, tenant_id, name, actor=actor)

    def _check_skills(self, tenant_id: str, names: Mapping[str, int], field: str) -> None:
        if not names:
            return
        known = skill_rows.known(self.engine, tenant_id, names)
        unknown = sorted(set(names) - known)
        if unknown:
            raise UnknownReference(
                f"unknown skill(s) {', '.join(map(repr, unknown))}: create them under skills first", field
            )

    # ------------------------------------------------------------------- queues

    async def list_queues(self, tenant_id: str) -> list[Queue]:
        return await self.node.read(tenant_id, lambda cc: sorted(cc.queues.values(), key=lambda q: q.id))

    async def get_queue(self, tenant_id: str, queue_id: str) -> Queue:
        def find(cc: ContactCenter) -> Queue:
            queue = cc.queues.get(queue_id)
            if queue is None:
                raise NotFound("queue", queue_id)
            return queue

        return await self.node.read(tenant_id, find)

    async def save_queue(self, tenant_id: str, queue: Queue, *, create: bool, actor: Actor = SYSTEM) -> list[Event]:
        await asyncio.to_thread(self._check_skills, tenant_id, queue.required_skills, "required_skills")
        row = _queue_row(queue)

        def change(cc: ContactCenter, now: float) -> list[Event]:
            exists = queue.id in cc.queues
            if create and exists:
                raise _ConflictInDomain(f"queue {queue.id!r} already exists", "id")
            if not create and not exists:
                raise NotFound("queue", queue.id)
            return cc.upsert_queue(queue, now)

        def write(connection: Connection) -> None:
            queue_rows.save(connection, tenant_id, row, create=create, actor=actor)

        events = await self._configure(tenant_id, change, write)
        forget_principals()  # roles and the enabled flag take effect on the next request
        return events

    async def delete_queue(self, tenant_id: str, queue_id: str, *, actor: Actor = SYSTEM) -> None:
        def change(cc: ContactCenter, now: float) -> list[Event]:
            members = sorted(cc.queue_members(queue_id))
            if members:
                raise InvalidTransition(
                    f"queue {queue_id!r} still has {len(members)} member(s) (e.g. {members[0]!r}): "
                    "remove it from their queues first"
                )
            return cc.remove_queue(queue_id, now)

        def write(connection: Connection) -> None:
            queue_rows.remove(connection, tenant_id, queue_id, actor=actor)

        await self._configure(tenant_id, change, write)
        forget_principals()

    # ------------------------------------------------------------------- agents

    async def list_agent_rows(self, tenant_id: str) -> list[Any]:
        return await asyncio.to_thread(self._list_agent_rows, tenant_id)

    def _list_agent_rows(self, tenant_id: str) -> list[Any]:
        return agent_rows.of_tenant(self.engine, tenant_id)

    async def get_agent_row(self, tenant_id: str, agent_id: str) -> Any:
        return await asyncio.to_thread(self._get_agent_row, tenant_id, agent_id)

    def _get_agent_row(self, tenant_id: str, agent_id: str) -> Any:
        row = agent_rows.find(self.engine, tenant_id, agent_id)
        if row is None:
            raise NotFound("agent", agent_id)
        return row

    async def save_agent(
        self, tenant_id: str, profile: AgentProfile, auto_login: bool, *, create: bool, actor: Actor = SYSTEM
    ) -> list[Event]:
        await asyncio.to_thread(self._check_skills, tenant_id, profile.skills, "skills")

        def change(cc: ContactCenter, now: float) -> list[Event]:
            exists = profile.id in cc.agents
            if create and exists:
                raise _ConflictInDomain(f"agent {profile.id!r} already exists", "id")
            if not create and not exists:
                raise NotFound("agent", profile.id)
            unknown = [q for q in profile.queue_ids if q not in cc.queues]
            if unknown:
                raise _UnknownInDomain(
                    f"unknown queue(s) {', '.join(map(repr, unknown))}: create them first", "queue_ids"
                )
            return cc.upsert_agent(profile, now)

        row = {
            "email": profile.email,
            "display_name": profile.display_name,
            "roles": sorted(r.value for r in profile.roles),
            "skills": dict(profile.skills),
            "capacity": {c.value: n for c, n in profile.capacity.items()},
            "queue_ids": list(profile.queue_ids),
            "enabled": profile.enabled,
            "auto_login": auto_login,
        }

        def write(connection: Connection) -> None:
            agent_rows.save(connection, tenant_id, profile.id, row, create=create, actor=actor)

        events = await self._configure(tenant_id, change, write)
        forget_principals()  # roles and the enabled flag take effect on the next request
        return events

    async def delete_agent(self, tenant_id: str, agent_id: str, *, actor: Actor = SYSTEM) -> None:
        def change(cc: ContactCenter, _now: float) -> list[Event]:
            cc.remove_agent(agent_id)
            return []

        def write(connection: Connection) -> None:
            agent_rows.remove(connection, tenant_id, agent_id, actor=actor)

        await self._configure(tenant_id, change, write)
        forget_principals()

    async def _configure(self, tenant_id: str, change: Any, write: Any) -> list[Event]:
        try:
            return await self.node.configure(tenant_id, change, write)
        except _ConflictInDomain as error:
            raise Conflict(str(error), error.field) from None
        except _UnknownInDomain as error:
            raise UnknownReference(str(error), error.field) from None


class _ConflictInDomain(InvalidTransition):
    """Raised inside the node (which only lets DomainErrors through unchanged)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class _UnknownInDomain(InvalidTransition):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _tenant_fields(tenant: Any) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "time_zone": tenant.time_zone,
        "phone_region": tenant.phone_region,
        "allowed_origins": list(tenant.allowed_origins),
    }


def _queue_row(queue: Queue) -> dict[str, Any]:
    return {
        "id": queue.id,
        "name": queue.name,
        "channel": queue.channel.value,
        "required_skills": dict(queue.required_skills),
        "priority": queue.priority,
        "service_level_seconds": queue.service_level_seconds,
        "offer_timeout_seconds": queue.offer_timeout_seconds,
        "wrap_up_seconds": queue.wrap_up_seconds,
        "offer_during_wrap_up": queue.offer_during_wrap_up,
        "dispositions": list(queue.dispositions),
        "disposition_required": queue.disposition_required,
    }


def profile_from_input(
    agent_id: str,
    email: str,
    display_name: str,
    roles: Sequence[str],
    skills_by_name: Mapping[str, int],
    capacity: Mapping[Channel, int],
    queue_ids: Sequence[str],
    enabled: bool,
) -> AgentProfile:
    return AgentProfile(
        id=agent_id,
        email=email.strip(),
        display_name=display_name,
        roles=frozenset(Role(r) for r in roles),
        skills=dict(skills_by_name),
        capacity={Channel(c): int(n) for c, n in capacity.items()},
        queue_ids=tuple(dict.fromkeys(queue_ids)),
        enabled=enabled,
    )
