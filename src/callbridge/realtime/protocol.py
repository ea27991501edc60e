"""The event WebSocket protocol, in one place (documented in docs/events.md).

1. The client gets a ticket (POST /api/v1/realtime/tickets) and opens
   /api/v1/realtime?ticket=…[&view=agent|tenant]. The Origin header, when present, must be
   Callbridge itself or one of the tenant's allowed CRM origins.
2. The server sends `{"type": "init", "version": 1, "heartbeat_seconds": …,
   "snapshot": {…}}`, then `{"type": "event", "seq": n, "event": {…}}` frames
   in order (seq starts at 1 on each connection).
3. The client sends `{"id": k, "type": "ping"}` at least every
   heartbeat_seconds; the server answers `{"id": k, "type": "result",
   "result": {"pong": true}}`. Unknown frames get `{"id": k, "type": "error",
   "error": {"code", "message"}}`.
4. On any disconnect the client reconnects with a new ticket and starts over
   from the new snapshot: it never replays old events.
"""

from __future__ import annotations

from enum import IntEnum

PROTOCOL_VERSION = 1


class CloseCode(IntEnum):
    BAD_TICKET = 4001  # missing, expired or already used ticket: get a new one
    FORBIDDEN_ORIGIN = 4003  # the page's origin is not an allowed CRM origin of the tenant
    SIGNED_OUT = 4004  # the agent or tenant no longer exists / was disabled
    BAD_VIEW = 4005  # view= names no view this principal may have (agent: an agent's own; tenant: supervisors)
    TOO_SLOW = 4009  # the client did not read events fast enough: reconnect for a fresh snapshot
    SHUTTING_DOWN = 4010  # the server is restarting: reconnect
    TENANT_MOVED = 4011  # another node runs the tenant now: reconnect (through the load balancer)
    TOO_MANY_CONNECTIONS = 4029  # this address opened too many connections (rate limit): wait, then reconnect


def init_frame(snapshot_json: str, heartbeat_seconds: float) -> str:
    return (
        f'{{"type":"init","version":{PROTOCOL_VERSION},"heartbeat_seconds":{heartbeat_seconds},'
        f'"snapshot":{snapshot_json}}}'
    )


def event_frame(seq: int, event_json: str) -> str:
    return f'{{"type":"event","seq":{seq},"event":{event_json}}}'
