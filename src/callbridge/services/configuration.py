"""Configuration use cases: tenants, skills, queues, agents, API keys.

Queues and agents live both in the database and in the running
ContactCenter; changes to them go through the node so that the row and the
routing state change in the same transaction and in order with commands.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from callbridge.auth.credentials import forget_principals
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import InvalidTransition, NotFound
from callbridge.domain.events import Event
from callbridge.domain.model import AgentProfile, AgentStatus, Channel, Queue, Role
from callbridge.services.audit import SYSTEM, Actor, record
from callbridge.services.node import ContactCenterNode, Refusal
from callbridge.store.tables import agents, queues, skills, tenants


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
        with self.engine.begin() as connection:
            exists = connection.execute(select(tenants.c.id).where(tenants.c.id == tenant.id)).first()
            if exists is not None:
                raise Conflict(f"tenant {tenant.id!r} already exists", "id")
            connection.execute(
                insert(tenants).values(
                    id=tenant.id,
                    name=tenant.name,
                    time_zone=tenant.time_zone,
                    phone_region=tenant.phone_region,
                    allowed_origins=list(tenant.allowed_origins),
                    settings={},
                    created_at=time.time(),
                )
            )
            record(
                connection,
                tenant_id=tenant.id,
                actor=actor,
                action="tenant.created",
                target_type="tenant",
                target_id=tenant.id,
                after=_tenant_fields(tenant),
            )
        self.node.add_tenant(tenant.id)

    def update_tenant(self, tenant: TenantSettings, *, actor: Actor = SYSTEM) -> None:
        with self.engine.begin() as connection:
            old = connection.execute(select(tenants).where(tenants.c.id == tenant.id)).first()
            result = connection.execute(
                update(tenants)
                .where(tenants.c.id == tenant.id)
                .values(
                    name=tenant.name,
                    time_zone=tenant.time_zone,
                    phone_region=tenant.phone_region,
                    allowed_origins=list(tenant.allowed_origins),
                )
            )
            if old is not None:
                record(
                    connection,
                    tenant_id=tenant.id,
                    actor=actor,
                    action="tenant.updated",
                    target_type="tenant",
                    target_id=tenant.id,
                    before=_tenant_fields(old),
                    after=_tenant_fields(tenant),
                )
        if result.rowcount == 0:
            raise NotFound("tenant", tenant.id)

    def get_tenant(self, tenant_id: str) -> TenantSettings:
        with self.engine.connect() as connection:
            row = connection.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
        if row is None:
            raise NotFound("tenant", tenant_id)
        return TenantSettings(row.id, row.name, row.time_zone, row.phone_region, list(row.allowed_origins))

    def list_tenants(self, only: str | None = None) -> list[TenantSettings]:
        query = select(tenants).order_by(tenants.c.id)
        if only is not None:
            query = query.where(tenants.c.id == only)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [TenantSettings(r.id, r.name, r.time_zone, r.phone_region, list(r.allowed_origins)) for r in rows]

    # ------------------------------------------------------------------- skills

    async def list_skills(self, tenant_id: str) -> list[dict[str, str]]:
        return await asyncio.to_thread(self._list_skills, tenant_id)

    def _list_skills(self, tenant_id: str) -> list[dict[str, str]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(skills.c.name, skills.c.description)
                .where(skills.c.tenant_id == tenant_id)
                .order_by(skills.c.name)
            ).all()
        return [{"name": r.name, "description": r.description} for r in rows]

    async def create_skill(self, tenant_id: str, name: str, description: str, *, actor: Actor = SYSTEM) -> None:
        await asyncio.to_thread(self._create_skill, tenant_id, name, description, actor)

    def _create_skill(self, tenant_id: str, name: str, description: str, actor: Actor) -> None:
        with self.engine.begin() as connection:
            exists = connection.execute(
                select(skills.c.name).where(skills.c.tenant_id == tenant_id, skills.c.name == name)
            ).first()
            if exists is not None:
                raise Conflict(f"skill {name!r} already exists", "name")
            connection.execute(insert(skills).values(tenant_id=tenant_id, name=name, description=description))
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="skill.created",
                target_type="skill",
                target_id=name,
                after={"name": name, "description": description},
            )

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
        with self.engine.begin() as connection:
            old = connection.execute(
                select(skills.c.name, skills.c.description).where(
                    skills.c.tenant_id == tenant_id, skills.c.name == name
                )
            ).first()
            result = connection.execute(delete(skills).where(skills.c.tenant_id == tenant_id, skills.c.name == name))
            if old is not None:
                record(
                    connection,
                    tenant_id=tenant_id,
                    actor=actor,
                    action="skill.deleted",
                    target_type="skill",
                    target_id=name,
                    before={"name": old.name, "description": old.description},
                )
        return bool(result.rowcount)

    def _check_skills(self, tenant_id: str, names: Mapping[str, int], field: str) -> None:
        if not names:
            return
        with self.engine.connect() as connection:
            known = {
                r.name
                for r in connection.execute(
                    select(skills.c.name).where(skills.c.tenant_id == tenant_id, skills.c.name.in_(list(names)))
                )
            }
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
            before = None if create else _row_fields(connection, queues, tenant_id, queue.id, row)
            if create:
                connection.execute(insert(queues).values(tenant_id=tenant_id, created_at=time.time(), **row))
            else:
                connection.execute(
                    update(queues).where(queues.c.tenant_id == tenant_id, queues.c.id == queue.id).values(**row)
                )
            action = "queue.created" if create else "queue.updated"
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action=action,
                target_type="queue",
                target_id=queue.id,
                before=before,
                after=row,
            )

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
            before = _row_fields(connection, queues, tenant_id, queue_id, _AUDITED_QUEUE_FIELDS)
            connection.execute(delete(queues).where(queues.c.tenant_id == tenant_id, queues.c.id == queue_id))
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="queue.deleted",
                target_type="queue",
                target_id=queue_id,
                before=before or {},
            )

        await self._configure(tenant_id, change, write)
        forget_principals()

    # ------------------------------------------------------------------- agents

    async def list_agent_rows(self, tenant_id: str) -> list[Any]:
        return await asyncio.to_thread(self._list_agent_rows, tenant_id)

    def _list_agent_rows(self, tenant_id: str) -> list[Any]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(agents).where(agents.c.tenant_id == tenant_id).order_by(agents.c.created_at, agents.c.id)
                ).all()
            )

    async def get_agent_row(self, tenant_id: str, agent_id: str) -> Any:
        return await asyncio.to_thread(self._get_agent_row, tenant_id, agent_id)

    def _get_agent_row(self, tenant_id: str, agent_id: str) -> Any:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(agents).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
            ).first()
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
            before = None if create else _row_fields(connection, agents, tenant_id, profile.id, row)
            if create:
                now = time.time()
                connection.execute(
                    insert(agents).values(
                        tenant_id=tenant_id,
                        id=profile.id,
                        created_at=now,
                        presence=AgentStatus.LOGGED_OUT.value,
                        presence_reason="",
                        status=AgentStatus.LOGGED_OUT.value,
                        status_reason="",
                        status_since=now,
                        idle_since=now,
                        **row,
                    )
                )
            else:
                connection.execute(
                    update(agents).where(agents.c.tenant_id == tenant_id, agents.c.id == profile.id).values(**row)
                )
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="agent.created" if create else "agent.updated",
                target_type="agent",
                target_id=profile.id,
                before=before,
                after=row,
            )

        events = await self._configure(tenant_id, change, write)
        forget_principals()  # roles and the enabled flag take effect on the next request
        return events

    async def delete_agent(self, tenant_id: str, agent_id: str, *, actor: Actor = SYSTEM) -> None:
        def change(cc: ContactCenter, _now: float) -> list[Event]:
            cc.remove_agent(agent_id)
            return []

        def write(connection: Connection) -> None:
            before = _row_fields(connection, agents, tenant_id, agent_id, _AUDITED_AGENT_FIELDS)
            connection.execute(delete(agents).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id))
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="agent.deleted",
                target_type="agent",
                target_id=agent_id,
                before=before or {},
            )

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


_AUDITED_QUEUE_FIELDS = (
    "id",
    "name",
    "channel",
    "required_skills",
    "priority",
    "service_level_seconds",
    "offer_timeout_seconds",
    "wrap_up_seconds",
    "offer_during_wrap_up",
    "dispositions",
    "disposition_required",
)
_AUDITED_AGENT_FIELDS = ("email", "display_name", "roles", "skills", "capacity", "queue_ids", "enabled", "auto_login")


def _tenant_fields(tenant: Any) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "time_zone": tenant.time_zone,
        "phone_region": tenant.phone_region,
        "allowed_origins": list(tenant.allowed_origins),
    }


def _row_fields(
    connection: Connection, table: Any, tenant_id: str, row_id: str, fields: Iterable[str]
) -> dict[str, Any] | None:
    """The current values of `fields` of one row (the "before" of an audit entry), or None."""
    names = list(fields)
    found = connection.execute(
        select(*(table.c[n] for n in names)).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
    ).first()
    return None if found is None else dict(zip(names, found, strict=True))


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
