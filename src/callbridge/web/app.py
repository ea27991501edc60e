"""The FastAPI application factory (the composition root of the web process)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from callbridge.auth.credentials import TicketBook
from callbridge.auth.secrets import TokenCipher, load_secret_key
from callbridge.channels.services import ChannelServices
from callbridge.config import Settings
from callbridge.logging import RequestContextMiddleware
from callbridge.realtime.hub import Hub
from callbridge.reports.live import ReportsService
from callbridge.services.clock import Clock, SystemClock
from callbridge.services.configuration import ConfigurationService
from callbridge.services.node import ContactCenterNode
from callbridge.services.sso import SsoService
from callbridge.store.database import make_engine, upgrade
from callbridge.web import health, sso, ws
from callbridge.web.api import admin, agent, audit, auth, crm_integration, integrations, reports, telephony_settings
from callbridge.web.api import chat as chat_api
from callbridge.web.api import greetings as greetings_api
from callbridge.web.api import telephony as telephony_api
from callbridge.web.api import voicemail as voicemail_api
from callbridge.web.deps import Services, log_context
from callbridge.web.errors import install_error_handlers
from callbridge.web.pages import admin as admin_pages
from callbridge.web.pages import chat_demo, console
from callbridge.web.pages import reports as reports_pages
from callbridge.web.pages import wallboard as wallboard_pages
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


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = engine or make_engine(settings.database_url)
        upgrade(db)
        node = ContactCenterNode(
            db,
            Hub(),
            clock,
            heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
            sweep_interval_seconds=min(1.0, settings.heartbeat_timeout_seconds / 5),
            summary_interval_seconds=settings.summary_interval_seconds,
        )
        app.state.reports = ReportsService(db, node, clock)
        node.add_listener(app.state.reports)
        crm = await crm_integration.start(app, db, node, settings)
        # connectors set to act as the agent take the agent's tokens from single sign-on
        app.state.sso = SsoService(db, node, clock, TokenCipher(load_secret_key(settings)))
        crm.connections.agent_tokens = app.state.sso
        await node.start()
        app.state.services = Services(
            settings=settings,
            engine=db,
            clock=clock,
            node=node,
            configuration=ConfigurationService(db, node),
            tickets=TicketBook(settings.ws_ticket_seconds),
        )
        app.state.channels = ChannelServices.build(settings, db, node)
        # What start-up built lives as long as the process: keep it out of the collector's full
        # passes, which otherwise stall the event loop for tens of milliseconds (an offer's tail latency).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await app.state.channels.stop()
            await crm.stop()
            await app.state.reports.stop()
            await node.stop()
            if engine is None:
                db.dispose()

    app = FastAPI(
        title="Callbridge",
        version="1.0",
        summary="A contact center that lives inside your CRM",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(log_context)],
    )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    install_static_files(app)
    # routes are matched in order: the busiest (agents' and integrations' calls) come first
    for router in (
        agent.router,
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
    ):
        app.include_router(router)
    app.include_router(audit.router)
    app.include_router(greetings_api.router)
    app.include_router(wallboard_pages.router)
    app.include_router(reports_pages.router)
    admin_pages.install(app)
    for channel_router in (
        telephony_api.router,
        telephony_settings.router,
        voicemail_api.router,
        chat_api.router,
        chat_api.customer,
        chat_demo.router,
    ):
        app.include_router(channel_router)
    return app
