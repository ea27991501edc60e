"""The live side of reports: keeps the aggregates in step with each batch, and pushes wallboard figures.

Registered as a node batch listener: for each batch it turns the domain events into facts, adds their
sums to the aggregate tables in the batch's own transaction, and after the commit marks the queues
whose figures changed. A short coalescing delay later (0.1 s by default, far inside the 1 s the
wallboard promises) it reads today's counters and the live state and publishes one
`wallboard.queue_stats` event to the tenant's supervisors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine

from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.model import AgentStatus
from callbridge.realtime.audience import SupervisorAudience
from callbridge.realtime.hub import Delivery
from callbridge.realtime.wire import QueueStatsView, WallboardQueueStatsEvent
from callbridge.reports.facts import Deltas, QueueEntered, QueueLeft, facts_from_events
from callbridge.services.clock import Clock
from callbridge.services.node import BatchEffects, ContactCenterNode, TenantMoved
from callbridge.services.operations import Operation
from callbridge.store.report_aggregates import write_deltas
from callbridge.store.reports import ReportStore, tenant_zone

log = logging.getLogger(__name__)

ZONE_CACHE_SECONDS = 30.0


def queue_stats(cc: ContactCenter, queue_id: str, today: dict[str, Any], day: str) -> QueueStatsView:
    queue = cc.queues[queue_id]
    live = cc.queue_snapshot(queue_id)
    counts = dict.fromkeys(AgentStatus, 0)
    for agent_id in cc.queue_members(queue_id):
        agent = cc.agents.get(agent_id)
        if agent is not None:
            counts[agent.status] += 1
    return QueueStatsView(
        id=queue.id,
        name=queue.name,
        channel=queue.channel.value,
        waiting=live.waiting,
        oldest_enqueued_at=live.oldest_enqueued_at,
        available=counts[AgentStatus.AVAILABLE],
        busy=counts[AgentStatus.BUSY],
        wrap_up=counts[AgentStatus.WRAP_UP],
        on_break=counts[AgentStatus.BREAK],
        working_offline=counts[AgentStatus.WORKING_OFFLINE],
        day=today.get("day", day),
        offered=today.get("offered", 0),
        answered=today.get("answered", 0),
        abandoned=today.get("abandoned", 0),
        answered_in_sl=today.get("answered_in_sl", 0),
        abandoned_in_sl=today.get("abandoned_in_sl", 0),
        service_level_seconds=queue.service_level_seconds,
        service_level=today.get("service_level"),
        service_level_with_abandoned=today.get("service_level_with_abandoned"),
        average_wait_seconds=today.get("average_wait_seconds"),
        longest_wait_seconds=today.get("longest_wait_seconds", 0.0),
    )


class ReportsService:
    def __init__(self, engine: Engine, node: ContactCenterNode, clock: Clock, *, flush_delay: float = 0.5) -> None:
        self.engine = engine
        self.node = node
        self.clock = clock
        self.flush_delay = flush_delay
        self._zones: dict[str, tuple[ZoneInfo, float]] = {}
        self._dirty: dict[str, set[str]] = {}
        self._scheduled: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        node.provide(ReportsService, self)

    # ----------------------------------------------------------- batch listener

    def _zone(self, connection: Connection, tenant_id: str) -> ZoneInfo:
        """The tenant's time zone (its days), read in the batch's own transaction in the writer thread."""
        cached = self._zones.get(tenant_id)
        now = time.monotonic()
        if cached is not None and now - cached[1] < ZONE_CACHE_SECONDS:
            return cached[0]
        tz = tenant_zone(connection, tenant_id)
        self._zones[tenant_id] = (tz, now)
        return tz

    def __call__(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None:
        facts = facts_from_events(cc, events)
        changed = _queues_changed(cc, events)
        if not facts and not changed:
            return None
        effects = BatchEffects()
        if facts:
            changed |= {f.queue_id for f in facts if isinstance(f, QueueEntered | QueueLeft)}

            def write(connection: Connection) -> None:
                write_deltas(connection, tenant_id, Deltas().add(facts, self._zone(connection, tenant_id)))

            effects.writes.append(write)
        if changed:

            async def mark() -> None:
                self.changed(tenant_id, changed)

            effects.after_commit.append(mark)
        return effects

    # ---------------------------------------------------------------- wallboard

    def changed(self, tenant_id: str, queue_ids: Iterable[str]) -> None:
        """Marks queues whose figures changed; one publication per tenant follows after `flush_delay`
        (a timer, not a sleeping task, so nothing is left half-started when the loop stops)."""
        self._dirty.setdefault(tenant_id, set()).update(queue_ids)
        if tenant_id not in self._scheduled:
            self._scheduled.add(tenant_id)
            self._timers[tenant_id] = asyncio.get_running_loop().call_later(self.flush_delay, self._flush, tenant_id)

    async def stop(self) -> None:
        """Cancels pending wallboard publications (the app is shutting down)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._scheduled.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _flush(self, tenant_id: str) -> None:
        self._timers.pop(tenant_id, None)
        self._scheduled.discard(tenant_id)
        queue_ids = self._dirty.pop(tenant_id, set())
        if queue_ids:
            task = asyncio.create_task(self._publish_logged(tenant_id, queue_ids))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _publish_logged(self, tenant_id: str, queue_ids: set[str]) -> None:
        try:
            await self.publish(tenant_id, queue_ids)
        except TenantMoved:
            pass  # another node runs the tenant now, and publishes its figures
        except Exception:
            log.exception("publishing wallboard figures failed", extra={"tenant_id": tenant_id})

    def _today(self, tenant_id: str) -> tuple[str, dict[str, dict[str, Any]]]:
        return ReportStore(self.engine).today(tenant_id, self.clock.now())

    async def publish(self, tenant_id: str, queue_ids: Iterable[str]) -> None:
        day, today = await asyncio.to_thread(self._today, tenant_id)
        at = self.clock.now()
        wanted = sorted(set(queue_ids))

        def send(cc: ContactCenter) -> None:
            views = [queue_stats(cc, q, today.get(q, {}), day) for q in wanted if q in cc.queues]
            if views:
                frame = WallboardQueueStatsEvent(at=at, queues=views).model_dump_json()
                self.node.hub.publish(tenant_id, [Delivery(SupervisorAudience(), frame)], cc.queue_members)

        await self.node.read(tenant_id, send)

    async def wallboard(self, tenant_id: str) -> dict[str, Any]:
        """Everything the wallboard page starts from: every queue's figures, every agent, their teams."""

        day, today, team_of, limits = await asyncio.to_thread(
            ReportStore(self.engine).wallboard_counters, tenant_id, self.clock.now()
        )
        at = self.clock.now()

        def read(cc: ContactCenter) -> dict[str, Any]:
            return {
                "at": at,
                "day": day,
                "queues": [queue_stats(cc, q, today.get(q, {}), day).model_dump() for q in sorted(cc.queues)],
                "agents": [
                    {
                        "id": agent.id,
                        "display_name": agent.profile.display_name,
                        "status": agent.status.value,
                        "reason": agent.status_reason,
                        "since": agent.status_since,
                        "interaction_ids": sorted(agent.held_interaction_ids()),
                        "queue_ids": list(agent.profile.queue_ids),
                        "team": team_of.get(agent.id, ""),
                    }
                    for agent in sorted(cc.agents.values(), key=lambda a: a.profile.display_name.lower())
                ],
                "teams": sorted(set(team_of.values())),
                "thresholds": {q: limits[q] for q in sorted(cc.queues) if q in limits},
            }

        result: dict[str, Any] = await self.node.read(tenant_id, read)
        return result


def _queues_changed(cc: ContactCenter, events: Iterable[ev.Event]) -> set[str]:
    """Queues whose live figures (waiting, agents by status) a batch may have changed."""
    out: set[str] = set()
    for event in events:
        if isinstance(event, ev.AgentStatusChanged):
            agent = cc.agents.get(event.agent_id)
            if agent is not None:
                out.update(agent.profile.queue_ids)
            continue
        out.update(event.about_queues)
        interaction_id = event.about_interaction
        if interaction_id is not None:
            interaction = cc.interactions.get(interaction_id)
            if interaction is not None and interaction.queue_id:
                out.add(interaction.queue_id)
    return {q for q in out if q in cc.queues}


class ReadWallboard(Operation):
    """The wallboard's starting figures, from the node holding the tenant (today's counters are kept there)."""

    name: ClassVar[str] = "read_wallboard"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(dict[str, Any])

    async def run(self, node: ContactCenterNode, tenant_id: str) -> dict[str, Any]:
        return await node.provided(ReportsService).wallboard(tenant_id)
