"""Web security policy in one place: which browser requests may change anything, and where a browser may be
sent back to after signing in.

Cross-site request forgery. Agents' session cookie is `SameSite=None` (it must be: the console runs inside
the CRM's pages, another site), so a browser attaches it to requests any site makes. Every state-changing
request (any method but GET, HEAD and OPTIONS) that a browser could send with that cookie must therefore
prove it came from a Callbridge page: its `Origin` (or, when a browser sends none, `Sec-Fetch-Site`) must
be Callbridge's own. `CrossSiteRequestGuard` checks it before any route runs, for every route there is and
will be. Exempt: requests carrying an `Authorization` header (API keys and bearer sessions, which a browser
never attaches by itself), and the customer chat widget's public routes, which other sites call by design
(CORS, no cookie). The admin pages' forms also carry a token bound to the session.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The customer chat widget: called from the tenant's own web sites (CORS), authorised by the chat's token.
CROSS_SITE_PREFIXES = ("/chat/v1/",)

# Control characters, spaces and backslashes: browsers drop tabs and newlines from URLs and read "\" as "/",
# so "/\t/evil.example" or "/\\evil.example" would leave the site. Never part of a path we send people to.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, as browsers send it in `Origin`."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_callbridge(method: str, headers: dict[str, str], trusted_origins: Iterable[str]) -> bool:
    """Whether a request may change state: safe methods always; otherwise it must not come from another site.

    Same-site means: `Origin` is one of `trusted_origins` (Callbridge's public origin) or names the host the
    request was sent to (`Host`, which a browser sets itself); without `Origin`, `Sec-Fetch-Site` must say
    same-origin. A request with neither header is not from a browser (browsers send `Origin` with every
    cross-site request that is not GET or HEAD) and is let through: it carries no cookie a site could abuse.
    """
    if method in SAFE_METHODS:
        return True
    origin = headers.get("origin")
    if origin is not None:
        origin = origin.strip().rstrip("/").lower()
        if origin == "null" or not origin:  # sandboxed frames, privacy-sensitive redirects: no proof
            return False
        if origin in trusted_origins:
            return True
        return urlsplit(origin).netloc == headers.get("host", "").lower()
    fetch_site = headers.get("sec-fetch-site")
    return fetch_site is None or fetch_site in ("same-origin", "none")


class CrossSiteRequestGuard:
    """Refuses (403 `cross_site_request`) every state-changing browser request that does not come from a
    Callbridge page, before any route runs (pure ASGI). See the module's description."""

    def __init__(self, app: Any, *, trusted_origins: Iterable[str]) -> None:
        self.app = app
        self.trusted_origins = frozenset(o.rstrip("/").lower() for o in trusted_origins)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or scope["path"].startswith(CROSS_SITE_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if "authorization" in headers or from_callbridge(scope["method"], headers, self.trusted_origins):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": "cross_site_request",
                "message": "this request did not come from a Callbridge page, so nothing was changed: "
                "open Callbridge (or your CRM) and try again there",
                "field": None,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def local_path(value: str, section: str) -> str | None:
    """`value` as a path of this site inside `section` (e.g. "/console", a whole path segment), normalised
    (percent-decoded, dot segments and repeated slashes resolved), with its query; None if it is anything else.

    The normalised path is what the caller redirects to, so what was checked is what the browser opens:
    "/console/../admin/" and "/console/..//evil.example" leave the section, "/consolefoo" is another page.
    """
    if not value.startswith("/") or _UNSAFE.search(value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    decoded = unquote(parts.path)
    if _UNSAFE.search(decoded):
        return None
    path = posixpath.normpath(decoded)
    if path.startswith("//"):  # normpath keeps a leading "//"
        return None
    if path != section and not path.startswith(section.rstrip("/") + "/"):
        return None
    if decoded.endswith("/") and not path.endswith("/"):
        path += "/"
    return quote(path, safe="/:@!$&'()*+,;=~") + (f"?{parts.query}" if parts.query else "")


# Headers every response carries unless its route set its own (pages that must be framed, like the console,
# set a Content-Security-Policy naming who may frame them; sign-in pages send no referrer at all).
DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """Adds `DEFAULT_HEADERS` to every HTTP response, and to WebSocket handshakes refused with one (pure ASGI):
    no page can be framed by another site unless its route says so in its own CSP `frame-ancestors`, and no
    response is content-sniffed. A route's own CSP without `frame-ancestors` gets `frame-ancestors 'none'` added;
    a route that allows framing in its CSP gets no X-Frame-Options (which cannot name origins)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            # a WebSocket handshake refused with an HTTP answer (a rate limit's 429) is a response too
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                message["headers"] = secured(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, with_headers)


def secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _value in headers}
    csp = [(i, value) for i, (name, value) in enumerate(headers) if name.lower() == b"content-security-policy"]
    for index, value in csp:
        if b"frame-ancestors" not in value:
            headers[index] = (b"content-security-policy", value.rstrip(b"; ") + b"; frame-ancestors 'none'")
    frameable = any(b"frame-ancestors 'none'" not in value for _i, value in csp)
    for name, value in DEFAULT_HEADERS:
        if (
            name in present
            or (name == b"content-security-policy" and csp)
            or (name == b"x-frame-options" and frameable)
        ):
            continue
        headers.append((name, value))
    return headers
