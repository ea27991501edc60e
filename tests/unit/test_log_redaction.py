"""Codes, `state` and WebSocket tickets never reach the logs, uvicorn's access log included."""

from __future__ import annotations

import io
import logging

from callbridge.logging import RedactQueryCredentials


def test_the_access_log_line_keeps_the_path_and_drops_the_credentials() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactQueryCredentials())
    logger = logging.getLogger("test.uvicorn.access")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        # uvicorn's access-log call: the path with its query string is an argument
        for path in (
            "/sso/callback?state=S3CRET-STATE&code=S3CRET-CODE",
            "/admin/crm/connected?code=S3CRET-CODE&state=S3CRET-STATE",
            "/api/v1/realtime?ticket=S3CRET-TICKET",
        ):
            logger.warning('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
        logger.warning("/sso/login?tenant=acme&next=/console")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "S3CRET" not in text
    assert "/sso/callback?state=[redacted]&code=[redacted]" in text
    assert "/api/v1/realtime?ticket=[redacted]" in text
    assert "tenant=acme&next=/console" in text
