"""WebSocket tickets in the database, for a cluster: issued by one node, redeemed once by whichever node the
WebSocket reaches (the load balancer chooses). Only the ticket's digest is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Engine, Float, String, Table, delete, insert

from callbridge.store.tables import metadata

ws_tickets = Table(
    "ws_tickets",
    metadata,
    Column("ticket_hash", String(64), primary_key=True),
    Column("principal", JSON, nullable=False),
    Column("expires_at", Float, nullable=False),
)


def save(engine: Engine, ticket_hash: str, principal: dict[str, Any], expires_at: float, now: float) -> None:
    """Blocking: call it from a worker thread. Drops the expired tickets on the way."""
    with engine.begin() as connection:
        connection.execute(delete(ws_tickets).where(ws_tickets.c.expires_at <= now))
        row = {"ticket_hash": ticket_hash, "principal": principal, "expires_at": expires_at}
        connection.execute(insert(ws_tickets).values(row))


def take(engine: Engine, ticket_hash: str, now: float) -> dict[str, Any] | None:
    """The ticket's principal, deleting it in the same statement: of two nodes redeeming one ticket, one
    gets it. None if unknown, used or expired. Blocking: call it from a worker thread."""
    with engine.begin() as connection:
        row = connection.execute(
            delete(ws_tickets)
            .where(ws_tickets.c.ticket_hash == ticket_hash)
            .returning(ws_tickets.c.principal, ws_tickets.c.expires_at)
        ).first()
    if row is None or row.expires_at <= now:
        return None
    found: dict[str, Any] = row.principal
    return found
