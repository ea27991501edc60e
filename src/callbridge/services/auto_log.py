"""Auto log: when an interaction completes, its activity goes into the durable outbox, in the same
transaction as the completion; the relay (`services/outbox.py`) writes it to the CRM later.

The outbox row keeps the full log (notes and transcript, uncut) for good: whatever the CRM could
store, Callbridge can always show the whole log (GET /api/v1/tenants/{id}/interactions/{iid}/log).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from callbridge.connectors.base import ActivityLog, CrmRecord
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.model import Direction, Interaction
from callbridge.services.activity_log import TranscriptLine, compose_comments
from callbridge.services.crm_links import PendingLinks, clicked_record, read_link
from callbridge.services.crm_settings import CrmSettingsStore
from callbridge.services.node import BatchEffects
from callbridge.store import crm_outbox
from callbridge.store.interaction_history import chat_transcript

log = logging.getLogger(__name__)

WHO_TYPES = frozenset({"contact", "lead"})
CHANNEL_WORDS = {"phone": "call", "chat": "chat", "voicemail": "voicemail"}


def subject_of(channel: str, direction: str, counterpart: str) -> str:
    word = CHANNEL_WORDS.get(channel, channel)
    if direction == Direction.OUTBOUND.value:
        return f"Outbound {word} to {counterpart}".strip() if counterpart else f"Outbound {word}"
    return f"Inbound {word} from {counterpart}".strip() if counterpart else f"Inbound {word}"


def build_payload(
    cc: ContactCenter, interaction: Interaction, agent_id: str, disposition: str, completed_at: float
) -> dict[str, Any]:
    """Everything the log needs that lives in the domain, read while the listener runs."""
    agent = cc.agents.get(agent_id)
    queue = cc.queues.get(interaction.queue_id) if interaction.queue_id else None
    outbound = interaction.direction is Direction.OUTBOUND
    counterpart = interaction.to_address if outbound else interaction.from_address
    started = interaction.connected_at or interaction.created_at
    ended = interaction.ended_at or completed_at
    return {
        "subject": subject_of(interaction.channel.value, interaction.direction.value, counterpart),
        "channel": interaction.channel.value,
        "direction": interaction.direction.value,
        "started_at": started,
        "duration_seconds": max(0, round(ended - started)) if interaction.connected_at else 0,
        "completed_at": completed_at,
        "disposition": disposition or interaction.disposition,
        "notes": interaction.notes,
        "queue_id": interaction.queue_id or "",
        "queue_name": queue.name if queue else "",
        "agent_id": agent_id,
        "agent_name": agent.profile.display_name if agent else "",
        "agent_email": agent.profile.email if agent else "",
        "from_address": interaction.from_address,
        "to_address": interaction.to_address,
        "case_number": interaction.case_number,
        "data": dict(interaction.data),
    }


def finish_payload(connection: Connection, tenant_id: str, interaction_id: str, payload: dict[str, Any]) -> None:
    """Adds what is in the database (the transcript, the linked record) and the full log text."""
    transcript = [
        TranscriptLine(at=at, sender=sender, text=text)
        for at, sender, text in chat_transcript(connection, tenant_id, interaction_id)
    ]
    payload["transcript"] = [{"at": t.at, "sender": t.sender, "text": t.text} for t in transcript]
    link = clicked_record(payload["data"]) or read_link(connection, tenant_id, interaction_id)
    payload["link"] = _record_json(link)
    payload["comments"] = compose_comments(
        queue_name=payload["queue_name"],
        agent_name=payload["agent_name"],
        disposition=payload["disposition"],
        notes=payload["notes"],
        transcript=transcript,
    )
    recording = str(payload["data"].get("recording_url") or "")
    if recording:  # a recorded call: the activity links to where supervisors play it
        payload["comments"] = f"{payload['comments']}\nRecording: {recording}".lstrip("\n")


def _record_json(record: CrmRecord | None) -> dict[str, str] | None:
    if record is None:
        return None
    return {"object_type": record.object_type, "record_id": record.record_id, "name": record.name}


def record_from_json(value: Mapping[str, Any] | None) -> CrmRecord | None:
    if not value:
        return None
    return CrmRecord(
        object_type=str(value.get("object_type", "")),
        record_id=str(value.get("record_id", "")),
        name=str(value.get("name", "")),
    )


def activity_log(interaction_id: str, payload: Mapping[str, Any], link: CrmRecord | None) -> ActivityLog:
    """The connector's view of one outbox row."""
    who = link if link is not None and link.object_type.lower() in WHO_TYPES else None
    what = link if link is not None and who is None else None
    return ActivityLog(
        external_id=interaction_id,
        subject=str(payload.get("subject", "")),
        channel=str(payload.get("channel", "phone")),
        direction=str(payload.get("direction", "inbound")),
        started_at=datetime.fromtimestamp(float(payload.get("started_at", 0.0)), UTC),
        duration_seconds=int(payload.get("duration_seconds", 0)),
        disposition=str(payload.get("disposition", "")),
        comments=str(payload.get("comments", "")),
        queue_name=str(payload.get("queue_name", "")),
        agent_email=str(payload.get("agent_email", "")),
        who=who,
        what=what,
    )


def insert_outbox_row(
    connection: Connection,
    tenant_id: str,
    interaction_id: str,
    crm: str,
    payload: dict[str, Any],
    now: float,
    due_at: float | None = None,
) -> None:
    """One row per interaction: a second completion of the same id (it cannot happen) changes nothing."""
    finish_payload(connection, tenant_id, interaction_id, payload)
    crm_outbox.add_entry(connection, tenant_id, interaction_id, crm, payload, now, due_at)


class AutoLogService:
    """The node listener that puts completed interactions in the outbox.

    A completion whose screen pop is still searching (on this node, the tenant's holder) is put off until the
    search could have ended (`link_wait_seconds`, the relay's own wait), so that no node's relay writes the log
    before the record it belongs to is known; `when_linked` makes it due as soon as the search ends."""

    def __init__(
        self,
        settings: CrmSettingsStore,
        wake: Callable[[], Coroutine[Any, Any, None]],
        pending_links: PendingLinks | None = None,
        link_wait_seconds: float = 10.0,
        when_linked: Callable[[str, str], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.settings = settings
        self.wake = wake
        self.pending_links = pending_links or PendingLinks()
        self.link_wait_seconds = link_wait_seconds
        self.when_linked = when_linked

    def listener(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None:
        config = self.settings.auto_log(tenant_id)
        effects: BatchEffects | None = None
        for event in events:
            if not isinstance(event, ev.InteractionCompleted):
                continue
            interaction = cc.interactions.get(event.interaction_id)
            if interaction is None or not config.logs(interaction.channel.value):
                continue
            payload = build_payload(cc, interaction, event.agent_id, event.disposition, event.at)
            effects = effects or BatchEffects()
            searching = self.when_linked is not None and self.pending_links.running(tenant_id, interaction.id)
            effects.writes.append(
                functools.partial(
                    insert_outbox_row,
                    tenant_id=tenant_id,
                    interaction_id=interaction.id,
                    crm=config.crm,
                    payload=payload,
                    now=event.at,
                    due_at=event.at + self.link_wait_seconds if searching else None,
                )
            )
            if searching and self.when_linked is not None:
                effects.after_commit.append(functools.partial(self.when_linked, tenant_id, interaction.id))
        if effects is not None:
            effects.after_commit.append(self.wake)
        return effects
