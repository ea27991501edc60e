"""The seams between Callbridge and the systems that carry the customer's media.

Telephony has two directions:

* inbound facts: a PBX, a CPaaS or a SIP gateway reports what happened to a call (incoming, answered,
  ended, abandoned; outbound requested, answered, ended). Every carrier feeds them to the same
  `TelephonyService.handle` (channels/telephony.py), whether they arrive over the REST API
  (`POST /api/v1/telephony/events`) or from a gateway running inside Callbridge.
* outbound requests: Callbridge asks the carrier to do something (place the call an agent clicked to dial,
  connect an accepted call, hang up, hold and resume a caller, transfer to an outside number). That is a
  `TelephonyChannel`. Two implement it: the tenant's command webhook for an outside PBX (channels/commands.py:
  signed commands, each sent only when the admin says the PBX follows it; the PBX reports what it did as the
  events above) and the voice channel's controller for the calls Callbridge carries itself over SIP
  (channels/sip/). `CarrierRouter` (channels/services.py) sends each call's requests to the one carrying it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

TelephonyEventType = Literal[
    "call.incoming",
    "call.answered",
    "call.ended",
    "call.abandoned",
    "outbound.requested",
    "outbound.answered",
    "outbound.ended",
    "call.held",
    "call.resumed",
    "call.failed",
]
TELEPHONY_EVENT_TYPES: tuple[TelephonyEventType, ...] = (
    "call.incoming",
    "call.answered",
    "call.ended",
    "call.abandoned",
    "outbound.requested",
    "outbound.answered",
    "outbound.ended",
    "call.held",
    "call.resumed",
    "call.failed",
)


@dataclass(frozen=True, slots=True)
class TelephonyEvent:
    """One fact about one call. The call id is the interaction id."""

    event_id: str
    type: TelephonyEventType
    call_id: str
    from_address: str = ""  # caller id (inbound) or the number shown to the callee (outbound)
    to_address: str = ""  # dialled number (inbound) or the customer's number (outbound)
    queue_id: str | None = None
    agent_id: str | None = None
    case_number: str = ""
    data: Mapping[str, str] = field(default_factory=dict)  # IVR digits and the like
    priority: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """What the carrier must dial for an agent (click to dial)."""

    tenant_id: str
    call_id: str
    agent_id: str
    to_address: str
    from_address: str = ""


class TelephonyChannel(Protocol):
    """A carrier Callbridge can drive (a SIP gateway, a CPaaS client). It reports back through
    `TelephonyService.handle` with the same call id."""

    async def place_call(self, call: OutboundCall) -> None: ...

    async def hang_up(self, tenant_id: str, call_id: str, agent_id: str | None = None) -> None: ...

    async def hold(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        """Puts the caller on hold; raises `CommandFailed` when the carrier did not confirm it."""
        ...

    async def resume(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        """Takes the caller off hold; raises `CommandFailed` when the carrier did not confirm it."""
        ...


class CommandFailed(Exception):
    """The carrier did not carry out a command (not configured, refused, unreachable, too slow)."""
