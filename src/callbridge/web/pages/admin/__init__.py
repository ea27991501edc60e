"""The admin pages, under /admin/: everything an admin sets up, with an audit log of every change.

`install(app)` adds the pages and the page error handlers (sign-in redirect, refusal pages).
See docs/admin-guide.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from callbridge.web.pages.admin import (
    agents,
    audit,
    call_center,
    channels,
    console_texts,
    crm,
    integration,
    keys,
    login,
    queues,
    screen_pop,
    tenant,
    voice,
)
from callbridge.web.pages.admin.common import install_page_errors

# integration first: its fixed paths (agents/crm-users) must win over agents/{agent_id}
PAGES = (
    login,
    integration,
    screen_pop,
    crm,
    tenant,
    agents,
    queues,
    keys,
    call_center,
    channels,
    voice,
    console_texts,
    audit,
)
ROUTERS = tuple(m.router for m in PAGES)


def install(app: FastAPI) -> None:
    install_page_errors(app)
    for router in ROUTERS:
        app.include_router(router)
