"""The event WebSocket endpoint (protocol: callbridge.realtime.protocol, docs/events.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from prometheus_client import Gauge
from starlette.concurrency import run_in_threadpool

from callbridge.auth.principal import Principal, PrincipalKind
from callbridge.domain.contact_center import ContactCenter
from callbridge.realtime.hub import Subscriber
from callbridge.realtime.protocol import CloseCode, event_frame, init_frame
from callbridge.realtime.views import snapshot
from callbridge.services.forwarding import NatsBus
from callbridge.services.node import TenantMoved
from callbridge.services.operations import ForwardFailed
from callbridge.store import tenants as store_tenants
from callbridge.web.deps import Services
from callbridge.web.rate_limits import ANONYMOUS, socket_refused

log = logging.getLogger(__name__)
router = APIRouter()
CONNECTIONS = Gauge("callbridge_websocket_connections", "Open event WebSockets")


def allowed_origin(svc: Services, tenant_id: str, origin: str | None) -> bool:
    """Browsers always send Origin; it must be Callbridge's own or an allowed CRM origin of the tenant.
    Non-browser clients (no Origin) cannot be used for cross-site hijacking and are let through.
    Blocking (a database read): call it from a worker thread."""
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin == svc.settings.effective_public_url().lower():
        return True
    allowed = store_tenants.allowed_origins(svc.engine, tenant_id)
    return allowed is not None and origin in {o.lower() for o in allowed}


@router.websocket("/api/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    if await socket_refused(websocket, ANONYMOUS):  # counted before the ticket is: guessing tickets costs too
        return
    ticket = websocket.query_params.get("ticket", "")
    # in a cluster the ticket is in the database (any node may have issued it): read off the event loop
    who = await run_in_threadpool(svc.tickets.redeem, ticket, svc.clock.now()) if ticket else None
    if who is None or who.tenant_id is None:
        await websocket.close(CloseCode.BAD_TICKET, "missing, expired or used ticket: get a new one")
        return
    tenant_id = who.tenant_id
    try:
        known = svc.node.has_tenant(tenant_id)
    except TenantMoved as moved:
        await websocket.close(CloseCode.TENANT_MOVED, str(moved)[:120])
        return
    if not known:
        await websocket.close(CloseCode.SIGNED_OUT, "unknown tenant")
        return
    if not await run_in_threadpool(allowed_origin, svc, tenant_id, websocket.headers.get("origin")):
        await websocket.close(CloseCode.FORBIDDEN_ORIGIN, "this page's origin is not allowed for the tenant")
        return
    view = websocket.query_params.get("view") or ("agent" if who.kind is PrincipalKind.AGENT else "tenant")
    if view not in ("agent", "tenant"):
        await websocket.close(CloseCode.BAD_VIEW, "view: 'agent' (my console) or 'tenant' (the wallboard)")
        return
    if view == "agent" and who.kind is not PrincipalKind.AGENT:
        await websocket.close(CloseCode.BAD_VIEW, "view: only an agent has an agent's view; ask for view=tenant")
        return
    if view == "tenant" and who.kind is PrincipalKind.AGENT and not who.is_supervisor_of(tenant_id):
        await websocket.close(CloseCode.BAD_VIEW, "view: the tenant's view is for supervisors and admins")
        return
    await websocket.accept()
    await _serve(websocket, svc, who, tenant_id, tenant_view=view == "tenant")


async def _serve(websocket: WebSocket, svc: Services, who: Principal, tenant_id: str, *, tenant_view: bool) -> None:
    """An agent's view (`me` set: their status, offers and interactions, their queues) or the tenant's view
    (`me` null: every queue and live interaction, the wallboard's figures). The view is what the page asks
    for, not the role: an agent who is also a supervisor needs an agent's view in the console."""
    agent_id = who.subject_id if who.kind is PrincipalKind.AGENT else None
    heartbeat_of = None if tenant_view else agent_id  # the wallboard left open is not the agent at their desk
    subscriber = Subscriber(
        tenant_id=tenant_id, agent_id=agent_id, supervisor=tenant_view and who.is_supervisor_of(tenant_id)
    )
    view_of = None if tenant_view else agent_id

    def take_snapshot(cc: ContactCenter) -> str:
        return snapshot(cc, view_of).model_dump_json()

    bus: NatsBus | None = getattr(websocket.app.state, "bus", None)
    try:
        if bus is not None and not svc.node.holds(tenant_id):
            # another node runs the tenant: its snapshot and events come over the bus
            snapshot_json, unsubscribe = await bus.subscribe(subscriber, view_of)
        else:
            snapshot_json, unsubscribe = await svc.node.subscribe(subscriber, take_snapshot)
    except (TenantMoved, ForwardFailed):
        await websocket.close(CloseCode.TENANT_MOVED, "the tenant moved to another node: reconnect")
        return
    CONNECTIONS.inc()
    if heartbeat_of is not None:
        svc.node.seen(tenant_id, heartbeat_of)
    try:
        await websocket.send_text(init_frame(snapshot_json, svc.settings.heartbeat_interval_seconds))
        writer = asyncio.create_task(_write_events(websocket, subscriber))
        try:
            await _read_frames(websocket, svc, tenant_id, heartbeat_of)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
    except WebSocketDisconnect:
        pass
    finally:
        unsubscribe()
        CONNECTIONS.dec()


async def _write_events(websocket: WebSocket, subscriber: Subscriber) -> None:
    seq = 0
    while True:
        frame = await subscriber.outbox.get()
        if frame is None:
            if subscriber.moved:
                await websocket.close(CloseCode.TENANT_MOVED, "the tenant moved to another node: reconnect")
            else:
                await websocket.close(CloseCode.TOO_SLOW, "too many unread events: reconnect for a fresh snapshot")
            return
        seq += 1
        await websocket.send_text(event_frame(seq, frame))


async def _read_frames(websocket: WebSocket, svc: Services, tenant_id: str, agent_id: str | None) -> None:
    while True:
        text = await websocket.receive_text()
        if agent_id is not None:
            svc.node.seen(tenant_id, agent_id)
        try:
            message: Any = json.loads(text)
            frame_id = message.get("id") if isinstance(message, dict) else None
            kind = message.get("type") if isinstance(message, dict) else None
        except ValueError:
            frame_id, kind = None, None
        if kind == "ping":
            await websocket.send_text(json.dumps({"id": frame_id, "type": "result", "result": {"pong": True}}))
        else:
            await websocket.send_text(
                json.dumps(
                    {
                        "id": frame_id,
                        "type": "error",
                        "error": {
                            "code": "unknown_type",
                            "message": "frames must be JSON like {'id': 1, 'type': 'ping'}",
                        },
                    }
                )
            )
