"""An admin's CRM Connect in progress (`crm_connects_pending`): kept from the press of Connect until the CRM's
callback takes it, once, on whichever node the callback reaches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert

from callbridge.store.crm_tables import crm_connects_pending


@dataclass(frozen=True, slots=True)
class StoredConnect:
    tenant_id: str
    crm: str
    subject_id: str
    code_verifier: str  # as stored: encrypted by the caller
    redirect_uri: str
    expires_at: float


def add(engine: Engine, state_hash: str, connect: StoredConnect, now: float) -> None:
    """Keeps a started Connect, and forgets those nobody came back for."""
    with engine.begin() as connection:
        connection.execute(delete(crm_connects_pending).where(crm_connects_pending.c.expires_at <= now))
        connection.execute(
            insert(crm_connects_pending).values(
                state_hash=state_hash,
                tenant_id=connect.tenant_id,
                crm=connect.crm,
                subject_id=connect.subject_id,
                code_verifier=connect.code_verifier,
                redirect_uri=connect.redirect_uri,
                expires_at=connect.expires_at,
            )
        )


def take(engine: Engine, state_hash: str) -> StoredConnect | None:
    """The Connect stored under `state_hash`, deleted in the same statement: two callbacks cannot both take it."""
    with engine.begin() as connection:
        row = connection.execute(
            delete(crm_connects_pending)
            .where(crm_connects_pending.c.state_hash == state_hash)
            .returning(
                crm_connects_pending.c.tenant_id,
                crm_connects_pending.c.crm,
                crm_connects_pending.c.subject_id,
                crm_connects_pending.c.code_verifier,
                crm_connects_pending.c.redirect_uri,
                crm_connects_pending.c.expires_at,
            )
        ).first()
    return None if row is None else StoredConnect(*row)
