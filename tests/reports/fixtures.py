"""Log rows written directly, with known times, for reports checked against hand-computed figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert

from callbridge.store.tables import (
    agent_status_events,
    agents,
    interaction_events,
    interactions,
    queues,
    tenants,
)

NY = ZoneInfo("America/New_York")


def ny(text: str, fold: int = 0) -> float:
    """Epoch seconds of a New York wall-clock time 'YYYY-MM-DD HH:MM[:SS]'."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=NY, fold=fold).timestamp()


class Log:
    def __init__(self, engine: Engine, tenant_id: str = "nyc", time_zone: str = "America/New_York") -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        with engine.begin() as c:
            c.execute(insert(tenants).values(id=tenant_id, name="NYC", time_zone=time_zone, created_at=0.0))
            for queue_id, channel, sl in (("sales", "phone", 20), ("support", "chat", 30)):
                c.execute(
                    insert(queues).values(
                        tenant_id=tenant_id,
                        id=queue_id,
                        name=queue_id.title(),
                        channel=channel,
                        service_level_seconds=sl,
                        created_at=0.0,
                    )
                )
            for agent_id in ("a1", "a2"):
                c.execute(
                    insert(agents).values(
                        tenant_id=tenant_id,
                        id=agent_id,
                        email=f"{agent_id}@example.com",
                        display_name=agent_id.upper(),
                        roles=["agent"],
                        capacity={"phone": 1, "chat": 3, "voicemail": 1},
                        created_at=0.0,
                        status_since=0.0,
                        idle_since=0.0,
                    )
                )
        self.since: dict[str, tuple[str, float]] = {}
        self.sequence = 0

    def status(self, agent_id: str, status: str, at: float, reason: str = "") -> None:
        previous, since = self.since.get(agent_id, ("logged_out", 0.0))
        with self.engine.begin() as c:
            c.execute(
                insert(agent_status_events).values(
                    tenant_id=self.tenant_id,
                    agent_id=agent_id,
                    status=status,
                    reason=reason,
                    at=at,
                    previous_status=previous,
                    previous_since=since,
                )
            )
        self.since[agent_id] = (status, at)

    def event(
        self,
        interaction_id: str,
        kind: str,
        at: float,
        agent_id: str | None = None,
        queue_id: str | None = None,
        **detail: Any,
    ) -> None:
        with self.engine.begin() as c:
            c.execute(
                insert(interaction_events).values(
                    tenant_id=self.tenant_id,
                    interaction_id=interaction_id,
                    type=kind,
                    at=at,
                    agent_id=agent_id,
                    queue_id=queue_id,
                    detail=detail,
                )
            )

    def interaction(self, interaction_id: str, channel: str, queue_id: str, created_at: float, **values: Any) -> None:
        self.sequence += 1
        with self.engine.begin() as c:
            c.execute(
                insert(interactions).values(
                    tenant_id=self.tenant_id,
                    id=interaction_id,
                    channel=channel,
                    direction="inbound",
                    queue_id=queue_id,
                    state=values.pop("state", "completed"),
                    enqueued_at=created_at,
                    sequence=self.sequence,
                    created_at=created_at,
                    **values,
                )
            )

    def answered_call(
        self,
        iid: str,
        agent_id: str,
        queue_id: str,
        channel: str,
        queued: float,
        accepted: float,
        ended: float,
        done: float,
        **values: Any,
    ) -> None:
        self.interaction(
            iid,
            channel,
            queue_id,
            queued,
            agent_id=agent_id,
            connected_at=accepted,
            ended_at=ended,
            completed_at=done,
            **values,
        )
        self.event(iid, "created", queued, queue_id=queue_id, channel=channel, direction="inbound")
        self.event(iid, "queued", queued, queue_id=queue_id, requeued=False)
        self.event(
            iid, "offered", accepted - 1, agent_id=agent_id, queue_id=queue_id, offer_id="o", deadline=accepted + 19
        )
        self.event(iid, "offer_ended", accepted, agent_id=agent_id, offer_id="o", outcome="accepted")
        self.event(iid, "connected", accepted, agent_id=agent_id)
        self.event(iid, "wrap_up", ended, agent_id=agent_id, deadline=ended + 30, reason="ended")
        self.event(iid, "completed", done, agent_id=agent_id, disposition=values.get("disposition", ""), by_timer=False)

    def abandoned_call(self, iid: str, queue_id: str, channel: str, queued: float, left: float) -> None:
        self.interaction(iid, channel, queue_id, queued, state="abandoned", ended_at=left)
        self.event(iid, "created", queued, queue_id=queue_id, channel=channel, direction="inbound")
        self.event(iid, "queued", queued, queue_id=queue_id, requeued=False)
        self.event(iid, "abandoned", left, reason="caller_hung_up")
