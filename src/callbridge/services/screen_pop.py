"""The screen pop: on an offer, an accept or a completion, search the CRM and tell the agent's console what to open.

One match pops the record, several the CRM's search results, none a new-record form prefilled with
what is known (phone, name, e-mail, case number). Which search runs:

1. the admin's rules that apply to the channel, when the interaction's data has their keys;
2. else, for a chat, the case number (from the pre-chat form);
3. else, for phone and voicemail, the caller id (the dialled number for an outbound call).

The pop is started after the commit of the batch that made the offer (a node listener), so routing
never waits for the CRM: the search is time-boxed (`search_timeout_ms`); a time-out or a CRM error
pops a search view and is logged. The directive (`screen_pop.requested`) goes to the agent's
consoles through the hub.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import Engine

from callbridge.connectors.base import CrmConnector, CrmError, CrmRecord, PopTarget, SearchRule
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.model import Channel, Direction, Interaction
from callbridge.phones import to_e164
from callbridge.realtime.audience import AgentAudience
from callbridge.realtime.hub import Delivery, Hub
from callbridge.realtime.wire import PopTargetView, PopWindowView, ScreenPopRequestedEvent
from callbridge.services.crm_connections import CrmConnections
from callbridge.services.crm_links import CLICKED_RECORD_ID, PendingLinks, save_link
from callbridge.services.crm_settings import CrmSettingsStore, ScreenPopSettings, Trigger
from callbridge.services.node import BatchEffects
from callbridge.store.tenants import phone_region

log = logging.getLogger(__name__)

POPS = Counter("callbridge_screen_pops_total", "Screen pops sent", ["trigger", "outcome"])
POP_SECONDS = Histogram(
    "callbridge_screen_pop_seconds",
    "From the commit of the triggering batch to the pop directive handed to the hub",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
)

NAME_KEYS = ("name", "customer_name", "caller_name")
EMAIL_KEYS = ("email", "customer_email")
CASE_KEYS = ("case_number", "caseNumber")


@dataclass(frozen=True, slots=True)
class PopRequest:
    """What the pop needs, copied from the domain while the listener runs (nothing live is shared)."""

    tenant_id: str
    interaction_id: str
    agent_id: str
    trigger: Trigger
    channel: str
    direction: str
    phone: str
    case_number: str
    name: str
    email: str
    data: Mapping[str, str] = field(default_factory=dict)
    # the tenant's phone_region: how a caller id without a country code is read ("" = look it up)
    region: str = ""


def _first(data: Mapping[str, str], keys: Sequence[str]) -> str:
    for key in keys:
        value = data.get(key, "").strip()
        if value:
            return value
    return ""


def pop_request(tenant_id: str, interaction: Interaction, agent_id: str, trigger: Trigger) -> PopRequest:
    outbound = interaction.direction is Direction.OUTBOUND
    return request_for(
        tenant_id,
        interaction.channel.value,
        phone=interaction.to_address if outbound else interaction.from_address,
        case_number=interaction.case_number,
        data=interaction.data,
        interaction_id=interaction.id,
        agent_id=agent_id,
        trigger=trigger,
        direction=interaction.direction.value,
    )


def request_for(
    tenant_id: str,
    channel: str,
    *,
    phone: str = "",
    case_number: str = "",
    data: Mapping[str, str] | None = None,
    interaction_id: str = "",
    agent_id: str = "",
    trigger: Trigger = "offered",
    direction: str = "inbound",
) -> PopRequest:
    """What to search for, from an interaction's channel, number, case number and data: the live pop's
    input, and the admin's "what would pop for this data" test (`ScreenPopService.decide` takes it)."""
    values = dict(data or {})
    return PopRequest(
        tenant_id=tenant_id,
        interaction_id=interaction_id,
        agent_id=agent_id,
        trigger=trigger,
        channel=channel,
        direction=direction,
        phone=phone,
        case_number=case_number or _first(values, CASE_KEYS),
        name=_first(values, NAME_KEYS),
        email=_first(values, EMAIL_KEYS),
        data=values,
    )


@dataclass(frozen=True, slots=True)
class PopOutcome:
    target: PopTarget
    matches: int
    timed_out: bool
    record: CrmRecord | None
    records: tuple[CrmRecord, ...] = ()  # what the search found (several: the search results)


class ScreenPopService:
    def __init__(
        self,
        engine: Engine,
        hub: Hub,
        settings: CrmSettingsStore,
        connections: CrmConnections,
        pending_links: PendingLinks | None = None,
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.settings = settings
        self.connections = connections
        self.pending_links = pending_links or PendingLinks()

    # ------------------------------------------------------------- node listener

    def listener(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None:
        """Picks the batch's triggers; the searches start after the commit. Never blocks."""
        config = self.settings.screen_pop(tenant_id)
        if not config.enabled:
            return None
        effects: BatchEffects | None = None
        for event in events:
            trigger: Trigger
            if isinstance(event, ev.InteractionOffered):
                trigger = "offered"
            elif isinstance(event, ev.InteractionConnected):
                trigger = "accepted"
            elif isinstance(event, ev.InteractionCompleted):
                trigger = "completed"
            else:
                continue
            agent_id = event.agent_id
            if trigger not in config.triggers or not config.pops_for(agent_id):
                continue
            interaction = cc.interactions.get(event.interaction_id)
            if interaction is None or CLICKED_RECORD_ID in interaction.data:
                continue  # a click to dial starts from the record: it is already open
            request = pop_request(tenant_id, interaction, agent_id, trigger)
            effects = effects or BatchEffects()
            effects.after_commit.append(functools.partial(self._pop_after_commit, request, time.perf_counter()))
        return effects

    async def _pop_after_commit(self, request: PopRequest, started: float) -> None:
        # Before the first await: this task starts before the relay hears of any later batch's completion.
        self.pending_links.begin(request.tenant_id, request.interaction_id)
        try:
            await self.pop(request, started)
        except Exception:  # a pop is best effort: it must never break the node's after-commit work
            log.exception("screen pop failed", extra={"interaction_id": request.interaction_id})
        finally:
            self.pending_links.end(request.tenant_id, request.interaction_id)

    # ------------------------------------------------------------------- the pop

    async def pop(self, request: PopRequest, started: float | None = None) -> PopOutcome | None:
        started = time.perf_counter() if started is None else started
        config = self.settings.screen_pop(request.tenant_id)
        connector = await self.connections.get(request.tenant_id, config.crm, agent_id=request.agent_id or None)
        if connector is None:
            log.warning(
                "screen pop skipped: the CRM is not connected",
                extra={"tenant_id": request.tenant_id, "crm": config.crm, "interaction_id": request.interaction_id},
            )
            POPS.labels(request.trigger, "not_connected").inc()
            return None
        outcome = await self.decide(connector, config, request)
        event = ScreenPopRequestedEvent(
            interaction_id=request.interaction_id,
            agent_id=request.agent_id,
            trigger=request.trigger,
            target=PopTargetView(
                kind=outcome.target.kind.value,
                url=outcome.target.url,
                object_type=outcome.target.object_type,
                record_id=outcome.target.record_id,
                query=outcome.target.query,
                prefill=dict(outcome.target.prefill),
            ),
            window=PopWindowView(width=config.window.width, height=config.window.height, reuse=config.window.reuse),
            matches=outcome.matches,
            timed_out=outcome.timed_out,
            record_name=outcome.record.name if outcome.record is not None else "",
        )
        delivery = Delivery(AgentAudience(frozenset({request.agent_id})), event.model_dump_json())
        self.hub.publish(request.tenant_id, [delivery], _no_queue_members)
        POP_SECONDS.observe(time.perf_counter() - started)
        POPS.labels(request.trigger, "timed_out" if outcome.timed_out else outcome.target.kind.value).inc()
        if outcome.record is not None:
            await asyncio.to_thread(
                save_link, self.engine, request.tenant_id, request.interaction_id, outcome.record, "pop", time.time()
            )
        return outcome

    async def decide(self, connector: CrmConnector, config: ScreenPopSettings, request: PopRequest) -> PopOutcome:
        """What pops for this request under these settings (no side effects besides the CRM search)."""
        if request.phone and not request.region:
            region = await asyncio.to_thread(phone_region, self.engine, request.tenant_id)
            request = dataclasses.replace(request, region=region)
        query, search = self._search(connector, config, request)
        prefill = {
            k: v
            for k, v in (
                ("phone", request.phone if request.channel != Channel.CHAT.value else ""),
                ("name", request.name),
                ("email", request.email),
                ("caseNumber", request.case_number),
            )
            if v
        }
        new_object = "case" if request.case_number and request.channel == Channel.CHAT.value else None
        if search is None:
            target = connector.new_record_target(new_object or config.new_record_object_type, prefill)
            return PopOutcome(target, 0, False, None)
        try:
            async with asyncio.timeout(config.search_timeout_ms / 1000):
                records = list(await search)
        except TimeoutError:
            log.warning(
                "screen pop: the CRM search timed out; popping a search view",
                extra={
                    "tenant_id": request.tenant_id,
                    "interaction_id": request.interaction_id,
                    "timeout_ms": config.search_timeout_ms,
                },
            )
            return PopOutcome(connector.search_target(query), 0, True, None)
        except CrmError as error:
            log.warning(
                "screen pop: the CRM search failed; popping a search view",
                extra={"tenant_id": request.tenant_id, "interaction_id": request.interaction_id, "error": str(error)},
            )
            return PopOutcome(connector.search_target(query), 0, False, None)
        if len(records) == 1:
            return PopOutcome(connector.record_target(records[0]), 1, False, records[0], (records[0],))
        if records:
            return PopOutcome(connector.search_target(query), len(records), False, None, tuple(records))
        target = connector.new_record_target(new_object or config.new_record_object_type, prefill)
        return PopOutcome(target, 0, False, None)

    @staticmethod
    def _search(
        connector: CrmConnector, config: ScreenPopSettings, request: PopRequest
    ) -> tuple[str, Coroutine[Any, Any, Sequence[CrmRecord]] | None]:
        rules = [
            SearchRule(data_key=r.data_key, object_type=r.object_type, field=r.field)
            for r in config.rules
            if (not r.channels or request.channel in r.channels) and request.data.get(r.data_key, "").strip()
        ]
        if rules:
            query = " ".join(request.data[r.data_key].strip() for r in rules)
            return query, connector.search_by_rules(rules, request.data)
        if request.channel == Channel.CHAT.value:
            if config.chat_by_case_number and request.case_number:
                return request.case_number, connector.search_by_case_number(request.case_number)
            return "", None
        if config.phone_by_caller_id and request.phone:
            # the CRM is asked in E.164: a caller id without a country code is read in the tenant's region
            phone = to_e164(request.phone, request.region or "US") or request.phone
            return request.phone, connector.search_by_phone(phone)
        return "", None


def _no_queue_members(_queue_id: str) -> tuple[str, ...]:
    return ()
