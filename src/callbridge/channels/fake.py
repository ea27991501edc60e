"""A telephony channel that only remembers what it was asked, for tests and the demo."""

from __future__ import annotations

from dataclasses import dataclass, field

from callbridge.channels.base import OutboundCall


@dataclass
class FakeTelephony:
    placed: list[OutboundCall] = field(default_factory=list)
    hung_up: list[tuple[str, str]] = field(default_factory=list)
    held: list[tuple[str, str, str]] = field(default_factory=list)
    resumed: list[tuple[str, str, str]] = field(default_factory=list)

    async def place_call(self, call: OutboundCall) -> None:
        self.placed.append(call)

    async def hang_up(self, tenant_id: str, call_id: str) -> None:
        self.hung_up.append((tenant_id, call_id))

    async def hold(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        self.held.append((tenant_id, call_id, agent_id))

    async def resume(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        self.resumed.append((tenant_id, call_id, agent_id))
