"""Requests a caller may send again (a PBX's telephony events): the answer given the first time, by key, so a
repeat is answered the same and applied once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from callbridge.store.tables import processed_requests


def answer(engine: Engine, tenant_id: str, key: str) -> dict[str, Any] | None:
    """What was stored for `key`, or None if the request is new."""
    with engine.connect() as connection:
        row = connection.execute(
            select(processed_requests.c.response).where(
                processed_requests.c.tenant_id == tenant_id, processed_requests.c.key == key
            )
        ).first()
    return None if row is None else dict(row.response)


def remember(connection: Connection, tenant_id: str, key: str, response: dict[str, Any], at: float) -> None:
    """Stores the answer for `key` in the caller's transaction (the one that applies the request)."""
    connection.execute(
        insert(processed_requests).values(tenant_id=tenant_id, key=key, response=response, created_at=at)
    )
