"""A tenant's API keys: created and revoked (audited), found by their secret's hash, listed for the admin pages
and API. Secrets are never stored, only their hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update

from callbridge.domain.audit import Actor
from callbridge.store.audit import record
from callbridge.store.tables import api_keys


def list_keys(engine: Engine, tenant_id: str, *, revoked_last: bool = False) -> Sequence[Row[Any]]:
    """Oldest first; `revoked_last` puts the revoked ones after the live ones."""
    order = (api_keys.c.revoked_at.is_not(None), api_keys.c.created_at) if revoked_last else (api_keys.c.created_at,)
    with engine.connect() as connection:
        return connection.execute(select(api_keys).where(api_keys.c.tenant_id == tenant_id).order_by(*order)).all()


@dataclass(frozen=True, slots=True)
class StoredApiKey:
    tenant_id: str
    id: str
    revoked: bool


def add_key(
    engine: Engine, tenant_id: str, key_id: str, name: str, prefix: str, secret_hash: str, now: float, actor: Actor
) -> None:
    """Stores a new key (its secret's hash only), audited as `api_key.created`."""
    with engine.begin() as connection:
        connection.execute(
            insert(api_keys).values(
                tenant_id=tenant_id,
                id=key_id,
                name=name,
                prefix=prefix,
                secret_hash=secret_hash,
                created_at=now,
                revoked_at=None,
            )
        )
        record(
            connection,
            tenant_id=tenant_id,
            actor=actor,
            action="api_key.created",
            target_type="api_key",
            target_id=key_id,
            after={"name": name, "prefix": prefix},
            at=now,
        )


def revoke_key(engine: Engine, tenant_id: str, key_id: str, now: float, actor: Actor) -> str | None:
    """Revokes a live key, audited as `api_key.revoked`; returns its secret's hash (None: no such live key)."""
    with engine.begin() as connection:
        result = connection.execute(
            update(api_keys)
            .where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if result.rowcount <= 0:
            return None
        key = connection.execute(
            select(api_keys.c.name, api_keys.c.prefix, api_keys.c.secret_hash).where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id
            )
        ).one()
        record(
            connection,
            tenant_id=tenant_id,
            actor=actor,
            action="api_key.revoked",
            target_type="api_key",
            target_id=key_id,
            before={"name": key.name, "prefix": key.prefix, "revoked": False},
            after={"name": key.name, "prefix": key.prefix, "revoked": True},
            at=now,
        )
    return str(key.secret_hash)


def key_by_secret_hash(engine: Engine, secret_hash: str) -> StoredApiKey | None:
    with engine.connect() as connection:
        row = connection.execute(select(api_keys).where(api_keys.c.secret_hash == secret_hash)).first()
    return None if row is None else StoredApiKey(row.tenant_id, row.id, row.revoked_at is not None)
