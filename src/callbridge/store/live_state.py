"""Reading and writing the live contact-center state and its append-only logs.

`write_changes` runs in one transaction per batch of commands (group commit):
the current rows of changed interactions and agents, and one log row per
domain event. `load_tenant` reads back what a restart needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Executable, and_, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.domain import events as ev
from callbridge.domain.contact_center import AgentSnapshot, Changes
from callbridge.domain.model import (
    FINAL_STATES,
    AgentProfile,
    AgentStatus,
    Channel,
    Direction,
    Interaction,
    InteractionState,
    Queue,
    Role,
)
from callbridge.phones import dial_digits
from callbridge.store.tables import agent_status_events, agents, interaction_events, interactions, queues


@dataclass(frozen=True, slots=True)
class SavedTenant:
    queues: list[Queue]
    agents: list[tuple[AgentProfile, AgentSnapshot]]
    interactions: list[Interaction]


@dataclass(slots=True)
class TenantChanges:
    tenant_id: str
    changes: Changes
    events: list[ev.Event]


def queue_from_row(row: Any) -> Queue:
    return Queue(
        id=row.id,
        name=row.name,
        channel=Channel(row.channel),
        required_skills=dict(row.required_skills or {}),
        priority=row.priority,
        service_level_seconds=row.service_level_seconds,
        offer_timeout_seconds=row.offer_timeout_seconds,
        wrap_up_seconds=row.wrap_up_seconds,
        offer_during_wrap_up=bool(row.offer_during_wrap_up),
        dispositions=tuple(row.dispositions or ()),
        disposition_required=bool(row.disposition_required),
    )


def profile_from_row(row: Any) -> AgentProfile:
    return AgentProfile(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        roles=frozenset(Role(r) for r in row.roles),
        skills=dict(row.skills or {}),
        capacity={Channel(k): int(v) for k, v in (row.capacity or {}).items()},
        queue_ids=tuple(row.queue_ids or ()),
        enabled=row.enabled,
    )


def snapshot_from_row(row: Any) -> AgentSnapshot:
    return AgentSnapshot(
        agent_id=row.id,
        presence=AgentStatus(row.presence),
        reason=row.presence_reason,
        status=AgentStatus(row.status),
        status_reason=row.status_reason,
        status_since=row.status_since,
        idle_since=row.idle_since,
        interaction_ids=(),
    )


def interaction_from_row(row: Any) -> Interaction:
    return Interaction(
        id=row.id,
        channel=Channel(row.channel),
        direction=Direction(row.direction),
        queue_id=row.queue_id,
        created_at=row.created_at,
        from_address=row.from_address,
        to_address=row.to_address,
        case_number=row.case_number,
        data=dict(row.data or {}),
        priority=row.priority,
        wrap_up_seconds=row.wrap_up_seconds,
        state=InteractionState(row.state),
        enqueued_at=row.enqueued_at,
        sequence=row.sequence,
        agent_id=row.agent_id,
        offer_id=row.offer_id,
        offer_deadline=row.offer_deadline,
        offer_attempts=row.offer_attempts,
        connected_at=row.connected_at,
        ended_at=row.ended_at,
        wrap_up_deadline=row.wrap_up_deadline,
        completed_at=row.completed_at,
        disposition=row.disposition,
        notes=row.notes,
        end_reason=row.end_reason,
        consult_agent_id=row.consult_agent_id,
    )


def interaction_row(tenant_id: str, i: Interaction) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": i.id,
        "channel": i.channel.value,
        "direction": i.direction.value,
        "queue_id": i.queue_id,
        "state": i.state.value,
        "from_address": i.from_address,
        "to_address": i.to_address,
        "from_digits": dial_digits(i.from_address),
        "to_digits": dial_digits(i.to_address),
        "case_number": i.case_number,
        "data": dict(i.data),
        "priority": i.priority,
        "wrap_up_seconds": i.wrap_up_seconds,
        "enqueued_at": i.enqueued_at,
        "sequence": i.sequence,
        "agent_id": i.agent_id,
        "offer_id": i.offer_id,
        "offer_deadline": i.offer_deadline,
        "offer_attempts": i.offer_attempts,
        "created_at": i.created_at,
        "connected_at": i.connected_at,
        "ended_at": i.ended_at,
        "wrap_up_deadline": i.wrap_up_deadline,
        "completed_at": i.completed_at,
        "disposition": i.disposition,
        "notes": i.notes,
        "end_reason": i.end_reason,
        "consult_agent_id": i.consult_agent_id,
    }


_INTERACTION_KEYS = ("tenant_id", "id")
_UPSERTS: dict[tuple[str, tuple[str, ...]], Executable] = {}


def _upsert_statement(dialect: str, columns: tuple[str, ...]) -> Executable:
    """INSERT … ON CONFLICT (tenant_id, id) DO UPDATE of the other `columns`.

    Built once per dialect and column set: `excluded` makes a fresh alias of
    the table each time it is built, which costs more than writing a small batch."""
    key = (dialect, columns)
    statement = _UPSERTS.get(key)
    if statement is None:
        insert = postgresql.insert(interactions) if dialect == "postgresql" else sqlite.insert(interactions)
        statement = insert.on_conflict_do_update(
            index_elements=list(_INTERACTION_KEYS),
            set_={c: insert.excluded[c] for c in columns if c not in _INTERACTION_KEYS},
        )
        _UPSERTS[key] = statement
    return statement


def _upsert_interactions(connection: Connection, rows: list[dict[str, Any]]) -> None:
    connection.execute(_upsert_statement(connection.dialect.name, tuple(rows[0])), rows)


def _event_row(event: ev.Event) -> tuple[str, dict[str, Any]] | None:
    """Maps a domain event to (log table, row), or None for events that are not logged."""
    base: dict[str, Any] = {"tenant_id": event.tenant_id, "at": event.at}
    detail: dict[str, Any]
    match event:
        case ev.AgentStatusChanged():
            return "status", {
                **base,
                "agent_id": event.agent_id,
                "status": event.status.value,
                "reason": event.reason,
                "previous_status": event.previous_status.value,
                "previous_since": event.previous_since,
            }
        case ev.InteractionCreated():
            detail = {"channel": event.channel.value, "direction": event.direction.value}
            return "interaction", _ix(base, event.interaction_id, "created", None, event.queue_id, detail)
        case ev.InteractionQueued():
            detail = {"requeued": event.requeued}
            return "interaction", _ix(base, event.interaction_id, "queued", None, event.queue_id, detail)
        case ev.InteractionOffered():
            detail = {"offer_id": event.offer_id, "deadline": event.deadline}
            return "interaction", _ix(base, event.interaction_id, "offered", event.agent_id, event.queue_id, detail)
        case ev.OfferEnded():
            detail = {"offer_id": event.offer_id, "outcome": event.outcome.value}
            return "interaction", _ix(base, event.interaction_id, "offer_ended", event.agent_id, None, detail)
        case ev.InteractionConnected():
            return "interaction", _ix(base, event.interaction_id, "connected", event.agent_id, None, {})
        case ev.InteractionTransferred():
            detail = {"from_queue_id": event.from_queue_id}
            if event.to_agent_id is not None:
                detail["to_agent_id"] = event.to_agent_id
            if event.to_address is not None:
                detail["to_address"] = event.to_address
            return "interaction", _ix(
                base, event.interaction_id, "transferred", event.agent_id, event.to_queue_id or None, detail
            )
        case ev.InteractionWrapUpStarted():
            detail = {"deadline": event.deadline, "reason": event.reason}
            return "interaction", _ix(base, event.interaction_id, "wrap_up", event.agent_id, None, detail)
        case ev.InteractionCompleted():
            detail = {"disposition": event.disposition, "by_timer": event.by_timer}
            return "interaction", _ix(base, event.interaction_id, "completed", event.agent_id, None, detail)
        case ev.InteractionAbandoned():
            return "interaction", _ix(base, event.interaction_id, "abandoned", None, None, {"reason": event.reason})
        case ev.InteractionFailed():
            return "interaction", _ix(base, event.interaction_id, "failed", None, None, {"reason": event.reason})
    return None


def _ix(
    base: dict[str, Any],
    interaction_id: str,
    kind: str,
    agent_id: str | None,
    queue_id: str | None,
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        **base,
        "interaction_id": interaction_id,
        "type": kind,
        "agent_id": agent_id,
        "queue_id": queue_id,
        "detail": detail,
    }


_AGENT_STATE_UPDATE = (
    update(agents)
    .where(and_(agents.c.tenant_id == bindparam("b_tenant_id"), agents.c.id == bindparam("b_id")))
    .values(
        presence=bindparam("presence"),
        presence_reason=bindparam("presence_reason"),
        status=bindparam("status"),
        status_reason=bindparam("status_reason"),
        status_since=bindparam("status_since"),
        idle_since=bindparam("idle_since"),
    )
    .execution_options(synchronize_session=False)
)


def write_changes(connection: Connection, batch: Sequence[TenantChanges]) -> None:
    """Writes one batch of changes; the caller owns the transaction."""
    interaction_rows: list[dict[str, Any]] = []
    status_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    agent_rows: list[dict[str, Any]] = []
    for item in batch:
        interaction_rows.extend(interaction_row(item.tenant_id, i) for i in item.changes.interactions)
        for agent in item.changes.agents:
            agent_rows.append(
                {
                    "b_tenant_id": item.tenant_id,
                    "b_id": agent.agent_id,
                    "presence": agent.presence.value,
                    "presence_reason": agent.reason,
                    "status": agent.status.value,
                    "status_reason": agent.status_reason,
                    "status_since": agent.status_since,
                    "idle_since": agent.idle_since,
                }
            )
        for event in item.events:
            mapped = _event_row(event)
            if mapped is None:
                continue
            table, row = mapped
            (status_rows if table == "status" else event_rows).append(row)
    if interaction_rows:
        _upsert_interactions(connection, interaction_rows)
    if agent_rows:
        connection.execute(_AGENT_STATE_UPDATE, agent_rows)
    if status_rows:
        connection.execute(agent_status_events.insert(), status_rows)
    if event_rows:
        connection.execute(interaction_events.insert(), event_rows)


def load_tenant(engine: Engine, tenant_id: str) -> SavedTenant:
    """Everything a restart needs to rebuild a tenant's contact center."""
    live_states = [s.value for s in InteractionState if s not in FINAL_STATES]
    with engine.connect() as connection:
        queue_rows = connection.execute(select(queues).where(queues.c.tenant_id == tenant_id)).all()
        agent_rows = connection.execute(
            select(agents).where(agents.c.tenant_id == tenant_id).order_by(agents.c.created_at, agents.c.id)
        ).all()
        interaction_rows = connection.execute(
            select(interactions)
            .where(interactions.c.tenant_id == tenant_id, interactions.c.state.in_(live_states))
            .order_by(interactions.c.sequence)
        ).all()
    return SavedTenant(
        queues=[queue_from_row(r) for r in queue_rows],
        agents=[(profile_from_row(r), snapshot_from_row(r)) for r in agent_rows],
        interactions=[interaction_from_row(r) for r in interaction_rows],
    )


_ROW_BY_ID = select(interactions).where(
    interactions.c.tenant_id == bindparam("tenant_id"), interactions.c.id == bindparam("interaction_id")
)


def stored_interaction_row(engine: Engine, tenant_id: str, interaction_id: str) -> Any:
    """The interaction's row (live or ended) in this tenant, or None. Blocking: call it off the event loop."""
    with engine.connect() as connection:
        return stored_interaction_row_in(connection, tenant_id, interaction_id)


def stored_interaction_row_in(connection: Connection, tenant_id: str, interaction_id: str) -> Any:
    """The interaction's row (live or ended) in this tenant, or None."""
    return connection.execute(_ROW_BY_ID, {"tenant_id": tenant_id, "interaction_id": interaction_id}).first()


def stored_interaction_ids(connection: Connection, wanted: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (tenant id, interaction id) pairs already have a row (live or ended)."""
    by_tenant: dict[str, list[str]] = {}
    for tenant_id, interaction_id in wanted:
        by_tenant.setdefault(tenant_id, []).append(interaction_id)
    found: set[tuple[str, str]] = set()
    for tenant_id, ids in by_tenant.items():
        rows = connection.execute(
            select(interactions.c.id).where(interactions.c.tenant_id == tenant_id, interactions.c.id.in_(ids))
        )
        found.update((tenant_id, row.id) for row in rows)
    return found


def all_tenant_ids(connection: Connection) -> Iterable[str]:
    from callbridge.store.tables import tenants

    return [row.id for row in connection.execute(select(tenants.c.id))]


def write_interaction_data(
    connection: Connection,
    tenant_id: str,
    interaction_id: str,
    data: dict[str, Any],
    *,
    event: dict[str, Any] | None = None,
) -> None:
    """Sets a live interaction's `data` and appends `event` (an `interaction_events` row) in the caller's
    transaction: for changes a channel makes beside the domain's events (hold and resume)."""
    connection.execute(
        update(interactions)
        .where(interactions.c.tenant_id == tenant_id, interactions.c.id == interaction_id)
        .values(data=data)
    )
    if event is not None:
        connection.execute(insert(interaction_events).values(**event))


def interaction_exists(engine: Engine, tenant_id: str, interaction_id: str) -> bool:
    """Whether the tenant has an interaction (live or ended) of this id. Blocking: call it off the event loop."""
    with engine.connect() as connection:
        row = connection.execute(
            select(interactions.c.id).where(interactions.c.tenant_id == tenant_id, interactions.c.id == interaction_id)
        ).first()
    return row is not None


def live_interactions_by_prefix(
    engine: Engine, prefix: str, *, carried_by: tuple[str, str] | None = None
) -> list[tuple[str, str]]:
    """(tenant id, interaction id) of every live (queued, offered or connected) interaction whose id starts with
    `prefix`, in every tenant: a channel's calls that a restart cut off. `carried_by` (data key, node): only those
    whose data names that node under the key, or names none (several nodes carry voice calls: each its own)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(interactions.c.tenant_id, interactions.c.id, interactions.c.data).where(
                interactions.c.id.like(f"{prefix}%"), interactions.c.state.in_(("queued", "offered", "connected"))
            )
        ).all()
    if carried_by is not None:
        key, node = carried_by
        rows = [row for row in rows if (row.data or {}).get(key) in (None, node)]
    return [(row.tenant_id, row.id) for row in rows]
