"""Every cookie Callbridge sets, with its flags decided here and nowhere else.

Every cookie is HttpOnly (no page script reads any of them), and `Secure` over HTTPS, reached directly or
through a proxy: either the request says https (a trusted proxy's `X-Forwarded-Proto` counts), or the public
URL is https. `SameSite` depends on the cookie:

* `frameable` cookies (the agent's session, used inside the CRM's pages, another site) are
  `SameSite=None; Partitioned` (CHIPS). They work in the CRM's frame without being third-party cookies.
  Deleting one also needs `Partitioned`, or the browser keeps it.
* Other cookies are `SameSite=Lax`. The administrators' sign-in form's token is `Strict`.

Frameable cookies are also `Secure` on loopback (http://127.0.0.1, localhost), which browsers treat as a
secure context, so the console works in a CRM frame on a developer's machine. Elsewhere over plain HTTP they
fall back to `SameSite=Lax`, because browsers refuse `SameSite=None` without `Secure`.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import HTTPConnection
from starlette.responses import Response

from callbridge.auth.oidc import LOOPBACK_HOSTS
from callbridge.config import Settings

SameSite = Literal["Lax", "Strict"]


def secure_context(request: HTTPConnection, settings: Settings, *, loopback: bool = True) -> bool:
    """HTTPS (directly, through a trusted proxy, or behind one named in public_url), or, when `loopback`, this
    machine (which browsers treat as secure)."""
    return (
        request.url.scheme in ("https", "wss")
        or settings.effective_public_url().startswith("https://")
        or (loopback and (request.url.hostname or "") in LOOPBACK_HOSTS)
    )


def cookie_header(
    name: str, value: str, *, max_age: int, path: str, secure: bool, frameable: bool, same_site: SameSite = "Lax"
) -> str:
    """A Set-Cookie value (see the module's description)."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly"]
    if secure and frameable:
        parts += ["Secure", "SameSite=None", "Partitioned"]
    elif secure:
        parts += ["Secure", f"SameSite={same_site}"]
    else:
        parts.append(f"SameSite={same_site}")
    return "; ".join(parts)


def set_cookie(
    response: Response,
    request: HTTPConnection,
    settings: Settings,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
    frameable: bool = False,
    same_site: SameSite = "Lax",
) -> None:
    secure = secure_context(request, settings, loopback=frameable)
    header = cookie_header(
        name, value, max_age=max_age, path=path, secure=secure, frameable=frameable, same_site=same_site
    )
    response.headers.append("set-cookie", header)


def delete_cookie(
    response: Response,
    request: HTTPConnection,
    settings: Settings,
    name: str,
    *,
    path: str = "/",
    frameable: bool = False,
    same_site: SameSite = "Lax",
) -> None:
    """Expires the cookie, with the attributes it was set with (a partitioned cookie needs `Partitioned`)."""
    set_cookie(response, request, settings, name, "", max_age=0, path=path, frameable=frameable, same_site=same_site)
