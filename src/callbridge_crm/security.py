"""The built-in CRM's security headers, in one place: applied to every response of the application.

Routes that must be framed (record pages inside the console workspace) or must never be (sign-in, consent)
set their own Content-Security-Policy and X-Frame-Options; everything else gets `frame-ancestors 'none'`.
Every response is served with `nosniff` and a referrer policy that never sends a path to another site.
Attachments are served as downloads unless they are a plain image or plain text (`attachment_headers`).

Client addresses (which the sign-in throttle counts): the direct peer, unless it is one of the proxies named in
`CALLBRIDGE_CRM_TRUSTED_PROXIES` (`TrustedProxies`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response

DEFAULT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
# Shown in the browser as they are; anything else (HTML, SVG, scripts…) is downloaded, never rendered.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"})


def _secure(response: Response) -> Response:
    for name, value in DEFAULT_HEADERS.items():
        response.headers.setdefault(name, value)
    csp = response.headers["Content-Security-Policy"]
    if "frame-ancestors" not in csp:
        response.headers["Content-Security-Policy"] = csp.rstrip("; ") + "; frame-ancestors 'none'"
    return response


def install(app: Flask) -> None:
    app.after_request(_secure)


def attachment_headers(content_type: str, name: str) -> dict[str, str]:
    """What an uploaded file is served with: its own type only if that is safe to show, else a download."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    sandbox = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    if media_type in INLINE_TYPES:
        charset = "; charset=utf-8" if media_type == "text/plain" else ""
        return {"Content-Type": media_type + charset, "Content-Security-Policy": sandbox}
    safe_name = "".join(c for c in name if c.isalnum() or c in "._- ") or "attachment"
    return {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{safe_name}"',
        "Content-Security-Policy": sandbox,
    }


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(value: str) -> list[Network]:
    """`CALLBRIDGE_CRM_TRUSTED_PROXIES`: addresses or networks, comma-separated; anything else is refused."""
    networks: list[Network] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.1.0.0/16)") from None
    return networks


class TrustedProxies:
    """WSGI middleware: when the direct peer is a trusted proxy, the client is the rightmost address of
    `X-Forwarded-For` that is not a trusted proxy (entries a client wrote itself are further left and never
    reached), and the scheme comes from `X-Forwarded-Proto`. From any other peer both headers are ignored.
    (Werkzeug's ProxyFix trusts a number of hops whoever sends them; this trusts addresses, as uvicorn does.)"""

    def __init__(self, app: Callable[..., Iterable[bytes]], networks: list[Network]) -> None:
        self.app = app
        self.networks = networks

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.trusted(environ.get("REMOTE_ADDR", "")):
            forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
            for address in reversed(forwarded):
                environ["REMOTE_ADDR"] = address
                if not self.trusted(address):
                    break
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)
