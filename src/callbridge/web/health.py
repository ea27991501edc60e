"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callbridge.store.database import is_up_to_date
from callbridge.web.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(svc: ServicesDep, request: Request, response: Response) -> dict[str, Any]:
    """The database answers and its schema is current (and, when voice is on, Kamailio and rtpengine answer):
    send traffic here. In a cluster, also this node, the live nodes, and the tenants this node holds with their
    lease epochs and ages, and the bus (503 while it is unreachable)."""
    try:
        ready = is_up_to_date(svc.engine)
    except Exception as error:
        response.status_code = 503
        return {"status": "database unreachable", "detail": error.__class__.__name__}
    if not ready:
        response.status_code = 503
        return {"status": "database schema is behind: run `callbridge db upgrade`"}
    if svc.settings.voice_enabled:  # voice is configured: its engines must answer too
        voice = getattr(getattr(request.app.state, "channels", None), "voice", None)
        down = ["voice controller"] if voice is None else [name for name, up in voice.health.items() if not up]
        if down:
            response.status_code = 503
            return {"status": f"voice engines down: {', '.join(down)}"}
    bus = getattr(request.app.state, "bus", None)
    if bus is not None and not bus.connected:
        # it would answer 503 for every tenant another node holds: let the balancer send requests elsewhere
        response.status_code = 503
        return {"status": "bus unreachable: requests for other nodes' tenants cannot be forwarded"}
    cluster = getattr(request.app.state, "cluster", None)
    if cluster is not None:
        status = cluster.status()
        if bus is not None:
            status["bus"] = bus.status()
        return {"status": "ready", "cluster": status}
    return {"status": "ready"}


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
