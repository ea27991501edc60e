"""Log lines carry the tenant, the caller and the interaction they are about, as JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from callbridge.logging import configure_logging
from tests.e2e.conftest import Harness


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Callbridge's production logging, written to a buffer the test reads."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("json", "INFO")
    buffer = io.StringIO()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(buffer)
    yield buffer
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def test_a_request_logs_with_its_tenant_and_interaction(json_logs: io.StringIO, harness: Harness) -> None:
    harness.setup_tenant("acme")
    pbx = harness.api_key("acme")
    created = harness.client.post(
        "/api/v1/interactions", json={"id": "call-42", "queue_id": "sales", "channel": "phone"}, headers=pbx
    )
    assert created.status_code == 201
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.startswith("{")]
    line = next(line for line in lines if line.get("event") == "interaction created")
    assert line["tenant_id"] == "acme"
    assert line["interaction_id"] == "call-42"
    assert line["principal"].startswith("api_key:")
    assert line["level"] == "info"


def test_a_line_logged_while_serving_a_path_carries_its_ids(json_logs: io.StringIO, harness: Harness) -> None:
    app = harness.client.app

    @app.get("/test-only/{tenant_id}/agents/{agent_id}/{page}")  # type: ignore[attr-defined]
    async def logs_something(tenant_id: str, agent_id: str, page: str) -> dict[str, str]:
        structlog.get_logger("test").warning("looked at a page")
        return {}

    assert harness.client.get("/test-only/acme/agents/a9/summary").status_code == 200
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.startswith("{")]
    line = next(line for line in lines if line.get("event") == "looked at a page")
    assert (line["tenant_id"], line["agent_id"]) == ("acme", "a9")
    assert "page" not in line  # only ids
    assert line["path"] == "/test-only/acme/agents/a9/summary"
