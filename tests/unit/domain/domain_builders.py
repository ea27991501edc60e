"""Small builders shared by the domain tests: a contact center set up in one line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from callbridge.domain import commands as cmd
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.events import Event, InteractionOffered
from callbridge.domain.model import AgentProfile, AgentStatus, Channel, Queue

T0 = 1_000.0


def queue(
    queue_id: str,
    channel: Channel = Channel.PHONE,
    *,
    skills: Mapping[str, int] | None = None,
    priority: int = 0,
    offer_timeout: int = 20,
    wrap_up: int = 30,
    offer_during_wrap_up: bool = False,
) -> Queue:
    return Queue(
        id=queue_id,
        name=queue_id.title(),
        channel=channel,
        required_skills=dict(skills or {}),
        priority=priority,
        offer_timeout_seconds=offer_timeout,
        wrap_up_seconds=wrap_up,
        offer_during_wrap_up=offer_during_wrap_up,
    )


def agent(
    agent_id: str,
    queues: Iterable[str],
    *,
    skills: Mapping[str, int] | None = None,
    phone: int = 1,
    chat: int = 3,
    voicemail: int = 1,
    enabled: bool = True,
) -> AgentProfile:
    return AgentProfile(
        id=agent_id,
        email=f"{agent_id}@example.com",
        display_name=agent_id.title(),
        skills=dict(skills or {}),
        capacity={Channel.PHONE: phone, Channel.CHAT: chat, Channel.VOICEMAIL: voicemail},
        queue_ids=tuple(queues),
        enabled=enabled,
    )


def center(queues: Iterable[Queue], agents: Iterable[AgentProfile], now: float = T0) -> ContactCenter:
    cc = ContactCenter("acme")
    for q in queues:
        cc.upsert_queue(q, now)
    for a in agents:
        cc.upsert_agent(a, now)
    cc.take_changes()
    return cc


def make_available(cc: ContactCenter, agent_id: str, now: float) -> list[Event]:
    events = cc.handle(cmd.SignIn(agent_id), now)
    return events + cc.handle(cmd.SetPresence(agent_id, AgentStatus.AVAILABLE), now)


def submit(cc: ContactCenter, interaction_id: str, queue_id: str, now: float, **kwargs: object) -> list[Event]:
    channel = cc.queues[queue_id].channel
    return cc.handle(cmd.SubmitInteraction(interaction_id, queue_id, channel, **kwargs), now)  # type: ignore[arg-type]


def offers(events: Iterable[Event]) -> list[tuple[str, str]]:
    """(interaction_id, agent_id) of every offer among the events, in order."""
    return [(e.interaction_id, e.agent_id) for e in events if isinstance(e, InteractionOffered)]


def of_type(events: Iterable[Event], kind: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]
