"""/docs is served from Callbridge's own origin: Swagger UI from the installed npm package, no CDN, and a
Content-Security-Policy that would stop anything else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Harness, running_server

ASSET = re.compile(r"""(?:src|href)="([^"]+)\"""")


def test_docs_reference_no_other_origin_and_every_asset_loads(app_harness: Harness) -> None:
    page = app_harness.client.get("/docs")
    assert page.status_code == 200
    assert "//" not in re.sub(r"<!doctype[^>]*>", "", page.text, flags=re.IGNORECASE), "an absolute URL in /docs"
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    for anything_else in ("http", "*", "unsafe"):
        assert anything_else not in csp
    assets = ASSET.findall(page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert not asset.startswith("//"), asset
        response = app_harness.client.get(asset)
        assert response.status_code == 200, f"{asset}: {response.status_code} (run scripts/setup?)"
        kind = "css" if asset.endswith(".css") else "png" if asset.endswith(".png") else "javascript"
        assert kind in response.headers["content-type"], (asset, response.headers["content-type"])
        assert len(response.content) > 100, asset


def test_no_other_documentation_page_loads_from_a_cdn(app_harness: Harness) -> None:
    assert app_harness.client.get("/redoc").status_code == 404


@pytest.mark.browser
def test_swagger_ui_runs_under_its_policy_in_a_browser(tmp_path: Path, browser: Any) -> None:
    """In chromium: the operations render, nothing is fetched from another origin, no policy is violated."""
    with running_server(tmp_path, "root@example.com", "correct horse battery") as base:
        context = browser.new_context()
        page = context.new_page()
        elsewhere: list[str] = []
        problems: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(base) else elsewhere.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{base}/docs")
        page.wait_for_selector(".opblock-tag", timeout=20_000)
        assert page.locator(".opblock").count() > 50
        assert page.locator(".title").first.inner_text().startswith("Callbridge")
        context.close()
    assert elsewhere == []
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    assert problems == []
