"""How Callbridge is served: uvicorn's configuration, the same for `callbridge serve`, the demo and tests.

uvicorn believes `X-Forwarded-For` and `X-Forwarded-Proto` from any client on loopback by default
(`forwarded_allow_ips="127.0.0.1"`), so anyone who can reach the port from this machine, or through a proxy
that passes the header on unchanged, chooses the address the rate limits count. Callbridge turns that off here
and trusts forwarding headers only from the proxies named in `CALLBRIDGE_TRUSTED_PROXIES`
(`callbridge.web.app.create_app` installs uvicorn's own middleware for them).
"""

from __future__ import annotations

from typing import Any

import uvicorn


def server_config(app: Any, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> uvicorn.Config:
    """uvicorn's `Config` for a Callbridge app: forwarding headers are never uvicorn's business."""
    options.setdefault("ws", "websockets-sansio")
    return uvicorn.Config(app, host=host, port=port, proxy_headers=False, forwarded_allow_ips=[], **options)
