"""The composition root: what one Callbridge process runs, wired in one readable place.

    settings ──▶ store: engine, migrations
             ──▶ node: the pure domain behind one loop, its hub (real-time audiences), its clock
             ──▶ listeners of the node's committed events: reports, screen pop, auto log
             ──▶ connectors: the installed CRM plugins (`callbridge.connectors` entry points) behind
                 CrmConnections, the auto-log relay, Connect; single sign-on lends agents' tokens
             ──▶ channels: telephony, voicemail, chat; voice (Kamailio, rtpengine, the SIP controller)
                 when CALLBRIDGE_VOICE_ENABLED
             ──▶ web: `web/app.py` builds the ASGI app; its lifespan calls `start` and hands the
                 `Runtime` to the routes through `app.state`

Start order matters: listeners are plugged in and the relay started before `node.start()`, so no
committed event is missed; `Runtime.stop` stops in the reverse order.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from sqlalchemy import Engine

from callbridge.auth.credentials import StoredTicketBook, TicketBook
from callbridge.auth.secrets import TokenCipher, load_secret_key
from callbridge.channels.commands import CommandSettingsStore
from callbridge.channels.services import ChannelServices
from callbridge.channels.voice_nodes import GoneCarriers, VoiceRelay
from callbridge.config import Settings
from callbridge.outbound import OutboundPolicy
from callbridge.realtime.hub import Hub
from callbridge.reports.live import ReportsService
from callbridge.services.auto_log import AutoLogService
from callbridge.services.clock import Clock, SystemClock
from callbridge.services.cluster import LeaseKeeper
from callbridge.services.configuration import ConfigurationService
from callbridge.services.crm_connections import CrmConnections
from callbridge.services.crm_integration import CrmIntegration
from callbridge.services.crm_links import PendingLinks
from callbridge.services.crm_oauth import CrmAuthorizations
from callbridge.services.crm_settings import CrmSettingsStore
from callbridge.services.forwarding import NatsBus
from callbridge.services.node import ContactCenterNode
from callbridge.services.outbox import AutoLogRelay, RelaySettings
from callbridge.services.screen_pop import ScreenPopService
from callbridge.services.sso import SsoService
from callbridge.store.database import make_engine, upgrade
from callbridge.web.deps import Services
from callbridge.web.rate_limits import rate_limits_from


@dataclass
class Runtime:
    """Everything `start` built, as the web layer reaches it (`expose`)."""

    services: Services
    reports: ReportsService
    crm: CrmIntegration
    sso: SsoService
    channels: ChannelServices
    owns_engine: bool
    cluster: LeaseKeeper | None = None
    bus: NatsBus | None = None

    def expose(self, state: object) -> None:
        """Puts the parts where the routes look for them (`request.app.state`)."""
        for name, part in (
            ("services", self.services),
            ("reports", self.reports),
            ("crm_integration", self.crm),
            ("sso", self.sso),
            ("channels", self.channels),
            ("cluster", self.cluster),
            ("bus", self.bus),
        ):
            setattr(state, name, part)

    async def stop(self) -> None:
        gc.unfreeze()
        await self.channels.stop()
        await self.crm.stop()
        await self.reports.stop()
        if self.cluster is not None:
            await self.cluster.stop()  # hands the tenants over at once
        if self.bus is not None:
            await self.bus.stop()
        await self.services.node.stop()
        if self.owns_engine:
            self.services.engine.dispose()
            if self.cluster is not None:
                self.cluster.engine.dispose()


async def start(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    relay: RelaySettings | None = None,
) -> Runtime:
    clock = clock or SystemClock()
    db = engine or make_engine(settings.database_url)
    if settings.cluster_enabled and db.url.get_backend_name() != "postgresql":
        raise ValueError("CALLBRIDGE_CLUSTER_ENABLED needs PostgreSQL (CALLBRIDGE_DATABASE_URL=postgresql+psycopg://…)")
    upgrade(db)
    cipher = TokenCipher(load_secret_key(settings))  # CRM and provider tokens at rest
    node = ContactCenterNode(
        db,
        Hub(),
        clock,
        heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
        sweep_interval_seconds=min(1.0, settings.heartbeat_timeout_seconds / 5),
        summary_interval_seconds=settings.summary_interval_seconds,
        node_id=settings.effective_node_id() if settings.cluster_enabled else None,
    )
    cluster = None
    if settings.cluster_enabled:
        cluster = LeaseKeeper(
            # connections of its own: renewals never wait for one that the requests hold
            make_engine(settings.database_url, pool_size=2) if engine is None else db,
            node,
            node_id=settings.effective_node_id(),
            address=settings.effective_node_url(),
            lease_seconds=settings.lease_seconds,
        )
        node.on_new_tenant = cluster.wake
    reports = ReportsService(db, node, clock)
    node.add_listener(reports)
    policy = settings.outbound_policy()  # every outbound client of a tenant's URLs goes through it
    crm = await start_crm_integration(db, node, cipher, relay, policy)
    sso = SsoService(db, node, clock, cipher, policy=policy)
    crm.connections.agent_tokens = sso  # connectors set to act as the agent take the agent's SSO tokens
    await node.start()
    bus = None
    if settings.bus_url:
        # on the bus before taking leases: requests forwarded here are answered from the first tenant on
        bus = NatsBus(
            settings.bus_url,
            node,
            node_id=settings.effective_node_id(),
            timeout_seconds=settings.forward_timeout_seconds,
            seen_interval_seconds=min(1.0, settings.heartbeat_timeout_seconds / 5),
        )
        await bus.start()
        await share_crm_connections(bus, crm.connections)
    services = Services(
        settings=settings,
        engine=db,
        clock=clock,
        node=node,
        configuration=ConfigurationService(db, node),
        tickets=StoredTicketBook(db, settings.ws_ticket_seconds)
        if settings.cluster_enabled
        else TicketBook(settings.ws_ticket_seconds),
        rate_limits=rate_limits_from(settings, db),
    )
    channels = ChannelServices.build(settings, db, node)
    if bus is not None:
        channels.chat.bus = bus  # customers' frames reach their connections on every node
        await share_command_settings(bus, channels.command_settings)
    if cluster is not None:
        # voice on several nodes (channels/voice_nodes.py): the holder of a tenant follows the controllers that
        # carry its calls, wherever they run
        cluster.on_round.append(GoneCarriers(node).check)
        if bus is not None:
            node.add_listener(VoiceRelay(settings.effective_node_id(), bus.broadcast))
    await channels.start_voice(settings, db, node, bus)
    # What start-up built lives as long as the process: keep it out of the collector's full
    # passes, which otherwise stall the event loop for tens of milliseconds (an offer's tail latency).
    gc.collect()
    gc.freeze()
    if cluster is not None:
        # leases last: start-up above keeps the event loop busy (seconds on a loaded machine), and a lease taken
        # before it would run out while the loop shows no sign of life (adr/0015)
        await cluster.start()
    return Runtime(services, reports, crm, sso, channels, owns_engine=engine is None, cluster=cluster, bus=bus)


CRM_CONNECTION_CHANGED = "callbridge.crm.connection_changed"


async def share_crm_connections(bus: NatsBus, connections: CrmConnections) -> None:
    """A CRM connection saved, connected or disconnected on one node: every node drops its live connector."""
    connections.on_change.append(
        lambda tenant_id, crm: bus.broadcast(CRM_CONNECTION_CHANGED, {"t": tenant_id, "c": crm})
    )
    await bus.listen(CRM_CONNECTION_CHANGED, lambda body: connections.forget(str(body.get("t")), str(body.get("c"))))


TELEPHONY_SETTINGS_CHANGED = "callbridge.telephony.settings_changed"


async def share_command_settings(bus: NatsBus, settings: CommandSettingsStore) -> None:
    """A tenant's PBX command settings saved on one node: every node forgets the copy it keeps in memory."""
    settings.on_change.append(lambda tenant_id: bus.broadcast(TELEPHONY_SETTINGS_CHANGED, {"t": tenant_id}))
    await bus.listen(TELEPHONY_SETTINGS_CHANGED, lambda body: settings.forget(str(body.get("t"))))


async def start_crm_integration(
    engine: Engine,
    node: ContactCenterNode,
    cipher: TokenCipher,
    relay: RelaySettings | None = None,
    policy: OutboundPolicy | None = None,
) -> CrmIntegration:
    """Loads the CRM settings, discovers the connector plugins, plugs screen pop and auto log into the node
    and starts the auto-log relay (before `node.start()`)."""
    settings = CrmSettingsStore(engine)
    settings.load()
    node.provide(CrmSettingsStore, settings)  # changed on the tenant's holder (SaveCrmSettings)
    node.on_adopting.append(settings.reload)
    policy = policy or OutboundPolicy()
    http = policy.client()
    connections = CrmConnections(engine, cipher, http, policy=policy)
    pending_links = PendingLinks()
    auto_log_relay = AutoLogRelay(engine, connections, relay, pending_links=pending_links)
    screen_pop = ScreenPopService(engine, node.hub, settings, connections, pending_links)
    auto_log = AutoLogService(
        settings,
        auto_log_relay.wake,
        pending_links,
        auto_log_relay.settings.link_wait_seconds,
        auto_log_relay.when_linked,
    )
    node.add_listener(screen_pop.listener)
    node.add_listener(auto_log.listener)
    await auto_log_relay.start()
    authorizations = CrmAuthorizations(connections)
    return CrmIntegration(settings, connections, screen_pop, auto_log, auto_log_relay, http, authorizations)
