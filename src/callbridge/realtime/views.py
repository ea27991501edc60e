"""Read models built from the live domain state, for snapshots and wire events."""

from __future__ import annotations

from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.model import Interaction
from callbridge.realtime.wire import AgentView, InteractionView, QueueView, Snapshot


def interaction_view(i: Interaction) -> InteractionView:
    return InteractionView(
        id=i.id,
        channel=i.channel.value,
        direction=i.direction.value,
        state=i.state.value,
        queue_id=i.queue_id,
        from_address=i.from_address,
        to_address=i.to_address,
        case_number=i.case_number,
        data=dict(i.data),
        priority=i.priority,
        agent_id=i.agent_id,
        offer_id=i.offer_id,
        offer_deadline=i.offer_deadline,
        created_at=i.created_at,
        enqueued_at=i.enqueued_at,
        connected_at=i.connected_at,
        ended_at=i.ended_at,
        wrap_up_deadline=i.wrap_up_deadline,
        completed_at=i.completed_at,
        disposition=i.disposition,
        end_reason=i.end_reason,
    )


def agent_view(cc: ContactCenter, agent_id: str) -> AgentView:
    agent = cc.agents[agent_id]
    return AgentView(
        id=agent.id,
        display_name=agent.profile.display_name,
        status=agent.status.value,
        reason=agent.status_reason,
        since=agent.status_since,
        interaction_ids=sorted(agent.held_interaction_ids()),
        presence=agent.presence.value,
        presence_reason=agent.reason,
    )


def queue_view(cc: ContactCenter, queue_id: str) -> QueueView:
    queue = cc.queues[queue_id]
    stats = cc.queue_snapshot(queue_id)
    return QueueView(
        id=queue.id,
        name=queue.name,
        channel=queue.channel.value,
        waiting=stats.waiting,
        oldest_enqueued_at=stats.oldest_enqueued_at,
        ready_agents=stats.ready_agents,
        dispositions=list(queue.dispositions),
        disposition_required=queue.disposition_required,
    )


def snapshot(cc: ContactCenter, agent_id: str | None) -> Snapshot:
    """The state one client may see: a supervisor's (agent_id None) or one agent's."""
    agents = {a: agent_view(cc, a) for a in cc.agents}
    if agent_id is None:
        queue_ids = list(cc.queues)
        interactions = {i.id: interaction_view(i) for i in cc.interactions.values() if not i.is_final}
    else:
        agent = cc.agents[agent_id]
        queue_ids = [q for q in agent.profile.queue_ids if q in cc.queues]
        interactions = {
            iid: interaction_view(cc.interactions[iid])
            for iid in agent.held_interaction_ids()
            if not cc.interactions[iid].is_final
        }
    return Snapshot(
        tenant_id=cc.tenant_id,
        me=agent_id,
        agents=agents,
        queues={q: queue_view(cc, q) for q in queue_ids},
        interactions=interactions,
    )
