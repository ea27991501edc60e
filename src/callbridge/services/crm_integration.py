"""The CRM integration as one running unit: settings, connections, screen pop, auto log and its relay,
Connect; built by `callbridge.bootstrap`, read by the web layer from `app.state.crm_integration`."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from callbridge.services.auto_log import AutoLogService
from callbridge.services.crm_connections import CrmConnections
from callbridge.services.crm_oauth import CrmAuthorizations
from callbridge.services.crm_settings import CrmSettingsStore
from callbridge.services.outbox import AutoLogRelay
from callbridge.services.screen_pop import ScreenPopService


@dataclass
class CrmIntegration:
    settings: CrmSettingsStore
    connections: CrmConnections
    screen_pop: ScreenPopService
    auto_log: AutoLogService
    relay: AutoLogRelay
    http: httpx.AsyncClient
    authorizations: CrmAuthorizations

    async def stop(self) -> None:
        await self.relay.stop()
        await self.http.aclose()
