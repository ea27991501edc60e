"""The console page may be framed by, and load CTI scripts from, the tenant's allowed CRM origins only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Harness, make_harness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path)


def test_only_the_tenants_crm_origins_may_frame_the_console_or_serve_it_scripts(harness: Harness) -> None:
    body = {"id": "acme", "name": "Acme", "allowed_origins": ["https://acme.lightning.force.com"]}
    assert harness.client.post("/api/v1/tenants", json=body, headers=harness.admin).status_code == 201
    page = harness.client.get("/console?tenant=acme")
    assert page.status_code == 200
    policy = {
        directive.split()[0]: directive.split()[1:] for directive in page.headers["content-security-policy"].split("; ")
    }
    assert policy["frame-ancestors"] == ["'self'", "https://acme.lightning.force.com"]
    assert policy["script-src"] == ["'self'", "https://acme.lightning.force.com"]
    assert policy["connect-src"] == ["'self'"]


def test_the_console_may_open_the_softphones_websocket_and_nothing_else() -> None:
    from callbridge.web.pages.console import console_csp

    policy = console_csp(["https://crm.example"], "ws://127.0.0.1:5066/")
    assert "connect-src 'self' ws://127.0.0.1:5066/;" in policy
    assert "connect-src 'self';" in console_csp([], "")
    assert "connect-src 'self';" in console_csp([], "ws://x; script-src *")  # not a URL: left out
    assert "connect-src 'self';" in console_csp([], "https://elsewhere.example")
