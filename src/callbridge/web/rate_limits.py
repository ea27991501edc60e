"""Callbridge's request rate limits: which routes count against which limit, per client address.

The counting itself is callbridge_ratelimit's (shared with the built-in CRM): in memory with SQLite, in the
database with PostgreSQL (every node counts the same requests), or in Redis (`CALLBRIDGE_RATE_LIMIT_STORAGE`).
Every route that answers without a credential counts against one limit, declared on the route itself:

- `SIGN_IN` (`CALLBRIDGE_RATE_LIMIT_SIGN_IN`): password sign-ins, the API's and the admin page's. The brute-force
  throttle (callbridge.auth.login_throttle) comes on top, per account and per address, on failures only.
- `CHAT_START` (`CALLBRIDGE_CHAT_STARTS_PER_MINUTE`): chats started through the widget.
- `ANONYMOUS` (`CALLBRIDGE_RATE_LIMIT_ANONYMOUS`): single sign-on (start, callback, hand-off, the console's entry),
  the CRM connection's OAuth callback, the chat widget's other routes, and WebSocket connections (agents' and
  customers').

Left out on purpose: health and metrics probes (`/healthz`, `/readyz`, `/metrics`: a load balancer must never be
refused), static files and the API documentation (no database, no outbound call). tests/security walks every
route and fails on an anonymous route that is neither limited nor listed there.

A refused request gets 429, `Retry-After` and a message saying when to try again (an HTML page for a browser's
page request); a refused WebSocket handshake gets the same 429 where the server can send it, a close otherwise.
"""

from __future__ import annotations

from fastapi import Depends
from fastapi.params import Depends as DependsParam
from sqlalchemy import Engine
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from callbridge.config import Settings
from callbridge.realtime.protocol import CloseCode
from callbridge.store.rate_limits import rate_limit_counters
from callbridge.web.errors import RetryLater, error_response
from callbridge_ratelimit import RateLimits, Refusal, open_storage

SIGN_IN = "sign_in"
CHAT_START = "chat_start"
ANONYMOUS = "anonymous"


def rate_limits_from(settings: Settings, engine: Engine) -> RateLimits:
    storage = open_storage(settings.rate_limit_storage, engine=engine, table=rate_limit_counters)
    return RateLimits(
        storage,
        {
            SIGN_IN: settings.rate_limit_sign_in,
            ANONYMOUS: settings.rate_limit_anonymous,
            CHAT_START: f"{settings.chat_starts_per_minute}/minute",
        },
    )


def client_address(connection: HTTPConnection) -> str:
    """The address rate limits count (the direct peer, or what a trusted proxy forwarded)."""
    return connection.client.host if connection.client is not None else "unknown"


async def over_limit(connection: HTTPConnection, name: str) -> Refusal | None:
    """Counts this request (or WebSocket handshake) against the limit `name`; the refusal when it is over."""
    limits: RateLimits = connection.app.state.services.rate_limits
    return await limits.check(name, client_address(connection))


class RateLimited:
    """A route dependency: 429 `too_many_requests` with `Retry-After` once the client's address is over `name`."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, connection: HTTPConnection) -> None:
        refusal = await over_limit(connection, self.name)
        if refusal is not None:
            raise RetryLater(refusal.message, refusal.retry_after)


def rate_limited(name: str) -> DependsParam:
    """`dependencies=[rate_limited(ANONYMOUS)]` on a route or router."""
    dependency: DependsParam = Depends(RateLimited(name))
    return dependency


async def socket_refused(websocket: WebSocket, name: str) -> bool:
    """Counts a WebSocket handshake against `name`. Over it, the handshake is refused (429 with `Retry-After` when
    the server can answer a handshake with HTTP, else a close with code 4029) and True is returned."""
    refusal = await over_limit(websocket, name)
    if refusal is None:
        return False
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        response = error_response(429, "too_many_requests", refusal.message)
        response.headers.update(refusal.headers)
        await websocket.send_denial_response(response)
    else:
        await websocket.close(CloseCode.TOO_MANY_CONNECTIONS, refusal.message[:120])
    return True
