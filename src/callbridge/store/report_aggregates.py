"""Keeps `report_agent_days` and `report_queue_slots` in step with the logs.

`write_deltas` adds a batch's deltas in the caller's transaction (an upsert per row); `rebuild`
recomputes a tenant's aggregates from the append-only logs (after an upgrade that adds reports to
existing history, or after the tenant's time zone changed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from callbridge.reports.calendar import zone
from callbridge.reports.facts import (
    Deltas,
    Fact,
    Handled,
    OfferClosed,
    Offered,
    QueueEntered,
    QueueLeft,
    status_facts,
)
from callbridge.store.report_tables import (
    AGENT_DAY_SUMS,
    QUEUE_SLOT_SUMS,
    report_agent_days,
    report_queue_slots,
)
from callbridge.store.tables import agent_status_events, interaction_events, interactions, queues, tenants


def _insert(connection: Connection, table: Any) -> Any:
    dialect = connection.dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _greatest(connection: Connection, a: Any, b: Any) -> Any:
    return func.greatest(a, b) if connection.dialect.name == "postgresql" else func.max(a, b)


def _least(connection: Connection, a: Any, b: Any) -> Any:
    return func.least(a, b) if connection.dialect.name == "postgresql" else func.min(a, b)


def _agent_days_upsert(connection: Connection) -> Any:
    statement = _insert(connection, report_agent_days)
    t, x = report_agent_days.c, statement.excluded
    update: dict[str, Any] = {name: t[name] + x[name] for name in AGENT_DAY_SUMS}
    update["first_sign_in_at"] = func.coalesce(
        _least(connection, t.first_sign_in_at, x.first_sign_in_at), x.first_sign_in_at, t.first_sign_in_at
    )
    update["last_sign_out_at"] = func.coalesce(
        _greatest(connection, t.last_sign_out_at, x.last_sign_out_at), x.last_sign_out_at, t.last_sign_out_at
    )
    return statement.on_conflict_do_update(index_elements=["tenant_id", "agent_id", "day"], set_=update)


def _queue_slots_upsert(connection: Connection) -> Any:
    statement = _insert(connection, report_queue_slots)
    q, x = report_queue_slots.c, statement.excluded
    update: dict[str, Any] = {name: q[name] + x[name] for name in QUEUE_SLOT_SUMS}
    update["max_wait_s"] = _greatest(connection, q.max_wait_s, x.max_wait_s)
    return statement.on_conflict_do_update(index_elements=["tenant_id", "queue_id", "slot"], set_=update)


# Built once per dialect: a statement built anew (with a new `excluded` alias) misses SQLAlchemy's
# compiled cache, and compiling it cost more than writing a batch.
_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(connection: Connection, kind: str) -> Any:
    key = (connection.dialect.name, kind)
    found = _UPSERTS.get(key)
    if found is None:
        found = _UPSERTS[key] = (_agent_days_upsert if kind == "agent_days" else _queue_slots_upsert)(connection)
    return found


def write_deltas(connection: Connection, tenant_id: str, deltas: Deltas) -> None:
    if deltas.agent_days:
        rows = []
        for (agent_id, day), sums in deltas.agent_days.items():
            row: dict[str, Any] = {"tenant_id": tenant_id, "agent_id": agent_id, "day": day.isoformat()}
            row.update({name: sums.get(name, 0.0) for name in AGENT_DAY_SUMS})
            row["first_sign_in_at"] = deltas.first_sign_in.get((agent_id, day))
            row["last_sign_out_at"] = deltas.last_sign_out.get((agent_id, day))
            rows.append(row)
        connection.execute(_upsert(connection, "agent_days"), rows)
    if deltas.queue_slots:
        rows = []
        for (queue_id, slot), sums in deltas.queue_slots.items():
            row = {"tenant_id": tenant_id, "queue_id": queue_id, "slot": slot}
            row.update({name: sums.get(name, 0.0) for name in QUEUE_SLOT_SUMS})
            row["max_wait_s"] = deltas.max_wait.get((queue_id, slot), 0.0)
            rows.append(row)
        connection.execute(_upsert(connection, "queue_slots"), rows)


def facts_from_logs(
    status_rows: Iterable[Any], event_rows: Iterable[Any], channels: dict[str, str], thresholds: dict[str, float]
) -> Iterator[Fact]:
    """Facts from the logs, each in time order: status rows (agent_id, status, at, previous_status,
    previous_since), interaction event rows (interaction_id, type, at, agent_id, queue_id, detail);
    `channels` maps interaction ids to channels, `thresholds` queue ids to service-level seconds."""
    for row in status_rows:
        yield from status_facts(row.agent_id, row.status, row.at, row.previous_status, row.previous_since)
    place: dict[str, tuple[str, float]] = {}  # interaction -> (queue, waiting since)
    connected: dict[str, float] = {}
    ended: dict[str, float] = {}
    for row in event_rows:
        iid, kind, at = row.interaction_id, row.type, row.at
        if kind == "queued":
            if not (row.detail or {}).get("requeued"):
                place[iid] = (row.queue_id, at)
                yield QueueEntered(row.queue_id, at)
        elif kind == "transferred" and "to_address" not in (row.detail or {}):  # out: it enters no queue
            place[iid] = (row.queue_id, at)
            yield QueueEntered(row.queue_id, at)
        elif kind == "offered":
            yield Offered(row.agent_id, at)
        elif kind == "offer_ended":
            outcome = (row.detail or {}).get("outcome", "")
            yield OfferClosed(row.agent_id, at, outcome)
            if outcome == "accepted" and iid in place:
                queue_id, since = place[iid]
                yield QueueLeft(queue_id, at, max(0.0, at - since), True, thresholds.get(queue_id, 20.0))
        elif kind == "abandoned":
            if iid in place:
                queue_id, since = place.pop(iid)
                yield QueueLeft(queue_id, at, max(0.0, at - since), False, thresholds.get(queue_id, 20.0))
        elif kind == "connected":
            connected[iid] = at
        elif kind == "wrap_up":
            ended[iid] = at
        elif kind == "completed":
            start = connected.pop(iid, at)
            stop = ended.pop(iid, at)
            place.pop(iid, None)
            yield Handled(row.agent_id, at, channels.get(iid, ""), max(0.0, at - start), max(0.0, at - stop))
        elif kind == "failed":
            place.pop(iid, None)


def rebuild(engine: Engine, tenant_id: str, chunk: int = 200_000) -> None:
    """Recomputes the tenant's aggregates from its logs, in the tenant's current time zone."""
    with engine.connect() as connection:
        zone_name = connection.execute(select(tenants.c.time_zone).where(tenants.c.id == tenant_id)).scalar_one()
        thresholds = {
            r.id: float(r.service_level_seconds)
            for r in connection.execute(
                select(queues.c.id, queues.c.service_level_seconds).where(queues.c.tenant_id == tenant_id)
            )
        }
        channels = {
            r.id: r.channel
            for r in connection.execute(
                select(interactions.c.id, interactions.c.channel).where(interactions.c.tenant_id == tenant_id)
            )
        }
    tz = zone(zone_name)
    deltas = Deltas()
    with engine.connect() as connection:
        status_rows = connection.execution_options(yield_per=chunk).execute(
            select(
                agent_status_events.c.agent_id,
                agent_status_events.c.status,
                agent_status_events.c.at,
                agent_status_events.c.previous_status,
                agent_status_events.c.previous_since,
            )
            .where(agent_status_events.c.tenant_id == tenant_id)
            .order_by(agent_status_events.c.at, agent_status_events.c.id)
        )
        deltas.add(facts_from_logs(status_rows, (), channels, thresholds), tz)
    with engine.connect() as connection:
        event_rows = connection.execution_options(yield_per=chunk).execute(
            select(
                interaction_events.c.interaction_id,
                interaction_events.c.type,
                interaction_events.c.at,
                interaction_events.c.agent_id,
                interaction_events.c.queue_id,
                interaction_events.c.detail,
            )
            .where(interaction_events.c.tenant_id == tenant_id)
            .order_by(interaction_events.c.at, interaction_events.c.id)
        )
        deltas.add(facts_from_logs((), event_rows, channels, thresholds), tz)
    with engine.begin() as connection:
        connection.execute(delete(report_agent_days).where(report_agent_days.c.tenant_id == tenant_id))
        connection.execute(delete(report_queue_slots).where(report_queue_slots.c.tenant_id == tenant_id))
        write_deltas(connection, tenant_id, deltas)
