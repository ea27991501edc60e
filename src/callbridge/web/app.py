"""The FastAPI application factory: the ASGI app, its middleware, error pages and routes. What the routes
use (store, node, connectors, channels) is built by the composition root, `callbridge.bootstrap`, when the
app starts (its lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy import Engine
from starlette.routing import NoMatchFound
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from callbridge import bootstrap
from callbridge.config import Settings
from callbridge.logging import RequestContextMiddleware
from callbridge.services.clock import Clock
from callbridge.web import health, sso, ws
from callbridge.web.api import (
    admin,
    agent,
    audit,
    auth,
    busiest,
    crm_integration,
    integrations,
    reports,
    telephony_settings,
    transfers,
    voice,
)
from callbridge.web.api import chat as chat_api
from callbridge.web.api import console_texts as console_texts_api
from callbridge.web.api import greetings as greetings_api
from callbridge.web.api import recordings as recordings_api
from callbridge.web.api import telephony as telephony_api
from callbridge.web.api import voicemail as voicemail_api
from callbridge.web.errors import install_error_handlers
from callbridge.web.pages import admin as admin_pages
from callbridge.web.pages import api_docs, chat_demo, compile_templates, console
from callbridge.web.pages import reports as reports_pages
from callbridge.web.pages import wallboard as wallboard_pages
from callbridge.web.security import CrossSiteRequestGuard, SecurityHeaders, origin_of
from callbridge.web.static_files import install_static_files

DESCRIPTION = """
Callbridge routes phone calls, chats and voicemails to the right available agent, inside the CRM.

* **Admins** configure tenants, skills, queues, agents and API keys.
* **Agents** (signed in through their CRM) set their status, accept offers, handle and complete interactions,
  and click to dial.
* **Integrations** (telephony, chat, voicemail systems; tenant API key) create inbound interactions and report
  their end.
* **Real-time**: get a ticket at `POST /api/v1/realtime/tickets`, then open the WebSocket
  `/api/v1/realtime?ticket=…` (see docs/events.md).

Errors are `{"error": code, "message": text, "field": name}`; `field` names the invalid field.
"""


def _telemetry() -> TelemetryConfig | None:
    """FastAPI's OpenTelemetry spans and metrics, only where OpenTelemetry is set up (its OTEL_* environment, or
    FASTAPI_OTEL_AUTO_CONFIGURE). Callbridge sets up no provider itself, and with telemetry on FastAPI asks
    OpenTelemetry for its three global providers on every request to find out that none is there: a few
    percent of the server's CPU for nothing."""
    if any(name.startswith(("OTEL_", "FASTAPI_OTEL_")) for name in os.environ):
        return None  # FastAPI's defaults
    return {"tracing": False, "metrics": False, "logs": False}


def _build_routes_now(app: FastAPI) -> None:
    """FastAPI builds each route's handler (dependencies, models) at its first request, which would stall the
    event loop for tens of milliseconds then; looking up a name no route has builds every one, at start-up."""
    with contextlib.suppress(NoMatchFound):
        app.url_path_for("no route has this name")


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # everything the routes use is wired in callbridge.bootstrap; tests may set the relay's pace
        runtime = await bootstrap.start(
            settings, engine=engine, clock=clock, relay=getattr(app.state, "auto_log_relay_settings", None)
        )
        runtime.expose(app.state)
        _build_routes_now(app)
        await asyncio.to_thread(compile_templates)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Callbridge",
        version="1.0",
        summary="A contact center that lives inside your CRM",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by pages.api_docs, from Callbridge's own origin
        openapi_url=None,  # served below, built in a worker thread
        redoc_url=None,  # ReDoc would load from a CDN; /docs is the reference
        telemetry=_telemetry(),
    )

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document() -> JSONResponse:
        """A plain `def`, so it runs in a worker thread: building the document takes a fifth of a second of CPU
        at its first request, which would otherwise stall the event loop that routes."""
        return JSONResponse(app.openapi())

    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(CrossSiteRequestGuard, trusted_origins=[origin_of(settings.effective_public_url())])
    app.add_middleware(SecurityHeaders)  # the guard's refusals carry the headers too
    proxies = settings.trusted_proxy_networks()
    if proxies:  # outermost: every part of the app sees the client's address, never a proxy's
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    install_error_handlers(app)
    install_static_files(app)
    # routes are matched in order: the busiest (agents' and integrations' calls) come first
    for router in (
        agent.router,
        transfers.router,
        integrations.router,
        health.router,
        auth.router,
        admin.router,
        reports.router,
        crm_integration.router,
        ws.router,
        sso.router,
        sso.api,
        console.router,
        api_docs.router,
    ):
        app.include_router(router)
    app.include_router(audit.router)
    app.include_router(greetings_api.router)
    app.include_router(console_texts_api.router)
    app.include_router(wallboard_pages.router)
    app.include_router(reports_pages.router)
    admin_pages.install(app)
    for channel_router in (
        telephony_api.router,
        telephony_settings.router,
        voice.router,
        recordings_api.router,
        voicemail_api.router,
        chat_api.router,
        chat_api.customer,
        chat_demo.router,
    ):
        app.include_router(channel_router)
    busiest.install(app)  # the three requests of every interaction, ahead of all the above (ADR 0016)
    return app
