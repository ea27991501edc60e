"""Interactions from arrival to completion, through the public API."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import Harness


def handle(
    harness: Harness,
    agent: dict[str, str],
    pbx: dict[str, str],
    *,
    notes: str = "",
    disposition: str = "resolved",
    linked: bool = False,
    **arrival: Any,
) -> str:
    """Offer, accept, hang up and complete a call. `linked`: like an agent who talks while the screen pop
    finds the caller, wait until the pop has linked the call to a CRM record before completing."""
    c = harness.client
    body = {"queue_id": "sales", "channel": "phone", **arrival}
    created = c.post("/api/v1/interactions", json=body, headers=pbx)
    assert created.status_code == 201, created.text
    iid = str(created.json()["id"])
    assert c.post(f"/api/v1/me/offers/{iid}/accept", headers=agent).status_code == 200
    if linked:
        deadline = time.monotonic() + 5
        while c.get(f"/api/v1/me/interactions/{iid}/crm-record", headers=agent).json() is None:
            assert time.monotonic() < deadline, "the screen pop did not link the call to a record"
            time.sleep(0.02)
    assert c.post(f"/api/v1/me/interactions/{iid}/end", json={}, headers=agent).status_code == 200
    done = c.post(
        f"/api/v1/me/interactions/{iid}/complete", json={"disposition": disposition, "notes": notes}, headers=agent
    )
    assert done.status_code == 204, done.text
    return iid


def outbox(harness: Harness, status: str | None = None) -> list[dict[str, Any]]:
    params = {"status": status, "limit": 1000} if status else {"limit": 1000}
    response = harness.client.get("/api/v1/tenants/acme/auto-log", params=params, headers=harness.admin)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows
