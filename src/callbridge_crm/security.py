"""The built-in CRM's security headers, in one place: applied to every response of the application.

Routes that must be framed (record pages inside the console workspace) or must never be (sign-in, consent)
set their own Content-Security-Policy and X-Frame-Options; everything else gets `frame-ancestors 'none'`.
Every response is served with `nosniff` and a referrer policy that never sends a path to another site.
Attachments are served as downloads unless they are a plain image or plain text (`attachment_headers`).
"""

from __future__ import annotations

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
