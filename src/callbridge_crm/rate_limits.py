"""The built-in CRM's request rate limits: which endpoints count against which limit, per client address.

Counted by callbridge_ratelimit (the same layer as Callbridge's): in memory with SQLite, in the CRM's database
with PostgreSQL (every process counts the same requests), or in Redis (`CALLBRIDGE_CRM_RATE_LIMIT_STORAGE`).
Every endpoint that answers without a session or a token counts, in one `before_request` hook:

- `sign_in` (`CALLBRIDGE_CRM_RATE_LIMIT_SIGN_IN`): the sign-in form's POST. The brute-force throttle
  (callbridge_crm.throttle) comes on top, on failures only.
- `anonymous` (`CALLBRIDGE_CRM_RATE_LIMIT_ANONYMOUS`): the sign-in form, sign-out, and the identity provider:
  discovery, keys, authorize, token, revoke, userinfo.

Left out on purpose: static files and the REST API's OpenAPI document (no database). The client address is the
one `TrustedProxies` leaves in `remote_addr`. A refused request gets 429, `Retry-After` and a message saying when
to try again: JSON for the identity provider's endpoints (`error: too_many_requests`), a page for a browser's.
"""

from __future__ import annotations

import html

from flask import Flask, Response, jsonify, request
from sqlalchemy import Engine

from callbridge_ratelimit import RateLimits, Refusal, open_storage

from .config import CrmSettings
from .models import rate_limit_counters

SIGN_IN = "sign_in"
ANONYMOUS = "anonymous"

# (endpoint, method or "*") → limit; an endpoint not named here needs a session or a token.
LIMITED: dict[tuple[str, str], str] = {
    ("pages.login", "POST"): SIGN_IN,
    ("pages.login", "GET"): ANONYMOUS,
    ("pages.logout", "*"): ANONYMOUS,
    ("oidc.discovery", "*"): ANONYMOUS,
    ("oidc.jwks", "*"): ANONYMOUS,
    ("oidc.authorize", "*"): ANONYMOUS,
    ("oidc.issue_token", "*"): ANONYMOUS,
    ("oidc.revoke_token", "*"): ANONYMOUS,
    ("oidc.userinfo", "*"): ANONYMOUS,
}
UNLIMITED = frozenset({"static", "api.openapi"})  # no database, no secret: not worth counting


def limit_for(endpoint: str | None, method: str) -> str | None:
    if endpoint is None:
        return None
    return LIMITED.get((endpoint, method)) or LIMITED.get((endpoint, "*"))


def _too_many(refusal: Refusal) -> Response:
    if request.path.startswith(("/oauth2/", "/.well-known/", "/api/")):
        response = jsonify({"error": "too_many_requests", "error_description": refusal.message})
    else:
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Please wait</title></head>'
            f'<body><main><h1>Please wait</h1><p role="alert">{html.escape(refusal.message)}</p></main></body></html>'
        )
        response = Response(page, mimetype="text/html")
    response.status_code = 429
    response.headers.update(refusal.headers)
    return response


def install(app: Flask, settings: CrmSettings, engine: Engine) -> RateLimits:
    limits = RateLimits(
        open_storage(settings.rate_limit_storage, engine=engine, table=rate_limit_counters),
        {SIGN_IN: settings.rate_limit_sign_in, ANONYMOUS: settings.rate_limit_anonymous},
    )

    def count() -> Response | None:
        name = limit_for(request.endpoint, request.method)
        if name is None:
            return None
        refusal = limits.hit(name, request.remote_addr or "unknown")
        return None if refusal is None else _too_many(refusal)

    app.before_request(count)
    app.extensions["callbridge_crm_rate_limits"] = limits
    return limits
