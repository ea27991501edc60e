"""Structured logs: JSON in production, readable in a terminal.

Each request starts with a clean context (`RequestContextMiddleware`); the credential binds the
tenant and the caller, and `bind_interaction` adds the interaction a request is about, so every
line logged while serving it carries them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog


def configure_logging(log_format: str = "console", level: str = "INFO") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_path_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RedactQueryCredentials())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        # a line below its logger's level is dropped first, before the context, level and time are added to it
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


# Query parameters that carry a credential: authorization codes and `state` (/sso/callback, the admin's CRM
# Connect), WebSocket tickets (/api/v1/realtime?ticket=), and any token a client might put in a URL.
SECRET_PARAMETERS = ("code", "state", "ticket", "token", "access_token", "refresh_token", "id_token", "handoff")
_SECRET_VALUE = re.compile(r"([?&](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&\s\"']*", re.IGNORECASE)


def redact_query(text: str) -> str:
    """`/sso/callback?code=abc&state=x` → `/sso/callback?code=[redacted]&state=[redacted]`."""
    return _SECRET_VALUE.sub(r"\1[redacted]", text)


class RedactQueryCredentials(logging.Filter):
    """Keeps codes, `state` and tickets out of every log line, uvicorn's access log included (its
    arguments carry the full path with the query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact_query(record.msg)
        return True


def bind_interaction(interaction_id: str) -> None:
    structlog.contextvars.bind_contextvars(interaction_id=interaction_id)


# the ASGI scope of the request (or WebSocket) being served, whose route fills in its path parameters
_request_scope: ContextVar[Mapping[str, Any] | None] = ContextVar("callbridge_request_scope", default=None)


def add_path_ids(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The ids in the request's path (tenant_id, interaction_id, agent_id, …) on every line logged while serving
    it, read from its route's match when a line is logged (not bound on every request, logged or not). What the
    request bound itself (the credential's tenant, `bind_interaction`) comes first."""
    scope = _request_scope.get()
    if scope is not None:
        for name, value in scope.get("path_params", {}).items():
            if name.endswith("_id"):
                event_dict.setdefault(name, value)
    return event_dict


class RequestContextMiddleware:
    """Clears the logging context at the start of every HTTP request and WebSocket (pure ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(path=scope.get("path", ""))
            _request_scope.set(scope)
        await self.app(scope, receive, send)
