"""The hub: per-connection outboxes, and routing of wire events by audience.

Each connection has a bounded queue of serialised frames. A client that
cannot keep up is disconnected (close code 4009) rather than slowing everyone
else; on reconnect it gets a fresh snapshot, so nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from callbridge.realtime.audience import (
    AgentAudience,
    Audience,
    InternalAudience,
    QueueAudience,
    SupervisorAudience,
    TenantAudience,
)

OUTBOX_LIMIT = 2000


@dataclass(eq=False, kw_only=True)
class BoundedOutbox:
    """Frames waiting to be written to one connection. A reader that falls too far behind is let
    go (its queue is emptied and ends with None, telling the writer to close) rather than slowing
    everyone else; on reconnect it starts again from a fresh snapshot."""

    outbox: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(OUTBOX_LIMIT))
    overflowed: bool = False
    moved: bool = False  # let go because the tenant moved to another node, not because it was slow

    def let_go(self) -> None:
        """Ends the connection (the writer closes on None): the client reconnects for a fresh snapshot."""
        self.overflowed = True
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.outbox.put_nowait(None)

    def deliver(self, frame: str) -> None:
        if self.overflowed:
            return
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.let_go()


@dataclass(eq=False)
class Subscriber(BoundedOutbox):
    tenant_id: str
    agent_id: str | None  # None for a supervisor/admin view of the whole tenant
    supervisor: bool


@dataclass(frozen=True, slots=True)
class Delivery:
    audience: Audience
    frame: str  # the serialised event, shared by every receiver


Relay = Callable[[str, int, list[Delivery], Callable[[str], Iterable[str]]], None]


class Hub:
    """In-process fan-out. Indexes subscribers by tenant, agent and role so an
    agent's offer touches only that agent's connections and the supervisors'.

    In a cluster with a bus, `relay` also sees every publication, numbered per tenant in the order they
    were made (`sequence`), to send it to the subscribers on other nodes (`services.forwarding`); what
    arrives from there is handed to `deliver`, which is local only."""

    def __init__(self) -> None:
        self._by_tenant: dict[str, set[Subscriber]] = {}
        self._by_agent: dict[tuple[str, str], set[Subscriber]] = {}
        self._supervisors: dict[str, set[Subscriber]] = {}
        self.relay: Relay | None = None
        self._sequence: dict[str, int] = {}

    def sequence(self, tenant_id: str) -> int:
        """How many publications of the tenant were relayed: a snapshot taken now comes after that many."""
        return self._sequence.get(tenant_id, 0)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        tenant = subscriber.tenant_id
        self._by_tenant.setdefault(tenant, set()).add(subscriber)
        if subscriber.supervisor:
            self._supervisors.setdefault(tenant, set()).add(subscriber)
        if subscriber.agent_id is not None:
            self._by_agent.setdefault((tenant, subscriber.agent_id), set()).add(subscriber)

        def unsubscribe() -> None:
            self._by_tenant.get(tenant, set()).discard(subscriber)
            self._supervisors.get(tenant, set()).discard(subscriber)
            if subscriber.agent_id is not None:
                own = self._by_agent.get((tenant, subscriber.agent_id))
                if own is not None:
                    own.discard(subscriber)
                    if not own:
                        del self._by_agent[(tenant, subscriber.agent_id)]

        return unsubscribe

    def disconnect_tenant(self, tenant_id: str) -> None:
        """Lets every connection of a tenant go: this node no longer runs it (its lease moved)."""
        for subscriber in list(self._by_tenant.get(tenant_id, ())):
            if not subscriber.overflowed:
                subscriber.moved = True
                subscriber.let_go()

    def connection_count(self) -> int:
        return sum(len(s) for s in self._by_tenant.values())

    def is_connected(self, tenant_id: str, agent_id: str) -> bool:
        return bool(self._by_agent.get((tenant_id, agent_id)))

    def is_heard(self, tenant_id: str) -> bool:
        """Whether a publication of the tenant reaches anyone: a subscriber on this node, or the other nodes'
        (the relay, which also numbers every publication). If not, it need not be built."""
        return self.relay is not None or bool(self._by_tenant.get(tenant_id))

    def publish(
        self,
        tenant_id: str,
        deliveries: Iterable[Delivery],
        queue_members: Callable[[str], Iterable[str]],
    ) -> None:
        if self.relay is not None:
            deliveries = list(deliveries)
            sequence = self._sequence[tenant_id] = self._sequence.get(tenant_id, 0) + 1
            self.relay(tenant_id, sequence, deliveries, queue_members)
        self.deliver(tenant_id, deliveries, queue_members)

    def deliver(
        self,
        tenant_id: str,
        deliveries: Iterable[Delivery],
        queue_members: Callable[[str], Iterable[str]],
    ) -> None:
        """To this node's subscribers only."""
        everyone = self._by_tenant.get(tenant_id)
        if not everyone:
            return
        supervisors = self._supervisors.get(tenant_id, set())
        for delivery in deliveries:
            audience = delivery.audience
            frame = delivery.frame
            if isinstance(audience, TenantAudience):
                receivers: Iterable[Subscriber] = everyone
            elif isinstance(audience, AgentAudience):
                receivers = set(supervisors)
                for agent_id in audience.agent_ids:
                    receivers |= self._by_agent.get((tenant_id, agent_id), set())
            elif isinstance(audience, QueueAudience):
                receivers = set(supervisors)
                for agent_id in queue_members(audience.queue_id):
                    receivers |= self._by_agent.get((tenant_id, agent_id), set())
            elif isinstance(audience, SupervisorAudience):
                receivers = supervisors
            else:
                assert isinstance(audience, InternalAudience)
                continue
            for subscriber in receivers:
                subscriber.deliver(frame)

    @staticmethod
    def deliver_to(
        subscriber: Subscriber, deliveries: Iterable[Delivery], queue_members: Callable[[str], Iterable[str]]
    ) -> None:
        """To one subscriber, what `deliver` would give it (a subscriber joining behind the others catches up)."""
        for delivery in deliveries:
            audience = delivery.audience
            if isinstance(audience, TenantAudience):
                wanted = True
            elif isinstance(audience, SupervisorAudience):
                wanted = subscriber.supervisor
            elif isinstance(audience, AgentAudience):
                wanted = subscriber.supervisor or subscriber.agent_id in audience.agent_ids
            elif isinstance(audience, QueueAudience):
                wanted = subscriber.supervisor or subscriber.agent_id in set(queue_members(audience.queue_id))
            else:
                wanted = False
            if wanted:
                subscriber.deliver(delivery.frame)
