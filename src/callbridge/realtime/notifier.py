"""Who hears what after a batch: one tenant's wire events, coalesced, and its digests of summaries.

What concerns one agent (their offers, interactions and own status) goes out at once to them and the
supervisors. Colleagues' presence and queue summaries go to many receivers (the whole tenant, every queue
member), so a batch only marks them here, and the node publishes them as a digest every summary interval: a
1,000-agent tenant would otherwise get thousands of frames per interaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.realtime.audience import AgentAudience, QueueAudience, SupervisorAudience, TenantAudience
from callbridge.realtime.hub import Delivery
from callbridge.realtime.views import agent_view, interaction_view, queue_view
from callbridge.realtime.wire import (
    AgentsChangedEvent,
    AgentStatusChangedEvent,
    InteractionChangedEvent,
    OfferEndedEvent,
    QueueChangedEvent,
)


@dataclass
class TenantNotifier:
    # the last agent and queue summaries published, to leave out repeats
    published: dict[tuple[str, str], str] = field(default_factory=dict)
    # agents and queues whose summaries changed since the last digest
    dirty_agents: set[str] = field(default_factory=set)
    dirty_queues: set[str] = field(default_factory=set)

    @property
    def has_news(self) -> bool:
        """Some summary may have changed since the last digest."""
        return bool(self.dirty_agents or self.dirty_queues)

    def resend_all(self) -> None:
        """Forget what was published: the next digest sends every marked summary, even one equal to the last
        (a subscriber joined with a snapshot that may be older, or configuration changed who receives what)."""
        self.published.clear()

    def deliveries(self, cc: ContactCenter, events: list[ev.Event]) -> list[Delivery]:
        """Wire events for one batch, coalesced: each changed agent and interaction is sent once with its latest
        state (every wire event replaces what it describes); the summaries they touch are marked for the digest."""
        interactions: dict[str, set[str]] = {}
        involved_agents: dict[str, None] = {}
        offers_ended: list[ev.OfferEnded] = []
        for event in events:
            if isinstance(event, ev.AgentStatusChanged | ev.AgentPresenceChanged):
                involved_agents[event.agent_id] = None
                continue
            interaction_id = event.about_interaction
            if interaction_id is None:
                continue
            involved = interactions.setdefault(interaction_id, set())
            agent_id = event.about_agent
            if agent_id:
                involved.add(agent_id)
                involved_agents[agent_id] = None
            self.dirty_queues.update(event.about_queues)
            if isinstance(event, ev.OfferEnded):
                offers_ended.append(event)
        out: list[Delivery] = []
        for agent_id in involved_agents:  # status or held interactions changed
            agent = cc.agents.get(agent_id)
            if agent is None:
                continue
            self.dirty_agents.add(agent_id)
            self.dirty_queues.update(agent.profile.queue_ids)  # readiness counts in each queue's summary
            frame = AgentStatusChangedEvent(agent=agent_view(cc, agent_id)).model_dump_json()
            out.append(Delivery(AgentAudience(frozenset({agent_id})), frame))
        for interaction_id, involved in interactions.items():
            interaction = cc.interactions.get(interaction_id)
            if interaction is None:
                continue
            if interaction.agent_id:
                involved.add(interaction.agent_id)
            if interaction.queue_id:
                self.dirty_queues.add(interaction.queue_id)
            frame = InteractionChangedEvent(interaction=interaction_view(interaction)).model_dump_json()
            audience = AgentAudience(frozenset(involved)) if involved else SupervisorAudience()
            out.append(Delivery(audience, frame))
        for ended in offers_ended:
            frame = OfferEndedEvent(
                offer_id=ended.offer_id,
                interaction_id=ended.interaction_id,
                agent_id=ended.agent_id,
                outcome=ended.outcome,
            ).model_dump_json()
            out.append(Delivery(AgentAudience(frozenset({ended.agent_id})), frame))
        return out

    def summaries(self, cc: ContactCenter) -> list[Delivery]:
        """The digest of colleagues' presence and queue summaries changed since the last one. A summary equal to
        the last published for the same agent or queue is left out: it would change nothing for anyone (clients
        that connected since have it in their snapshot)."""
        out: list[Delivery] = []
        changed = []
        for agent_id in sorted(self.dirty_agents):
            if agent_id in cc.agents:
                view = agent_view(cc, agent_id)
                if self._is_news(("agent", agent_id), view.model_dump_json()):
                    changed.append(view)
        if changed:
            out.append(Delivery(TenantAudience(), AgentsChangedEvent(agents=changed).model_dump_json()))
        for queue_id in sorted(self.dirty_queues):
            if queue_id in cc.queues:
                frame = QueueChangedEvent(queue=queue_view(cc, queue_id)).model_dump_json()
                if self._is_news(("queue", queue_id), frame):
                    out.append(Delivery(QueueAudience(queue_id), frame))
        self.dirty_agents.clear()
        self.dirty_queues.clear()
        return out

    def _is_news(self, key: tuple[str, str], frame: str) -> bool:
        if self.published.get(key) == frame:
            return False
        self.published[key] = frame
        return True
