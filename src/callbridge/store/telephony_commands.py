"""Each tenant's telephony command webhook (`telephony_command_settings`), its secret as the encrypted token the
channel decrypts (`channels/commands.py` holds the cipher and the rules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from callbridge.domain.audit import Actor
from callbridge.domain.errors import NotFound
from callbridge.store.audit import record
from callbridge.store.tables import tenants
from callbridge.store.telephony_tables import telephony_command_settings


@dataclass(frozen=True, slots=True)
class StoredCommandSettings:
    webhook_url: str
    signing_secret: str  # the Fernet token of the secret
    timeout_seconds: float
    commands: str  # comma-separated


@dataclass(frozen=True, slots=True)
class Change:
    """What a save writes: `settings` (None removes the webhook) and, with an actor, the audit entry's before and
    after."""

    settings: StoredCommandSettings | None
    updated_at: float
    before: dict[str, Any]
    after: dict[str, Any]


def _read(connection: Connection, tenant_id: str) -> StoredCommandSettings | None:
    row = connection.execute(
        select(telephony_command_settings).where(telephony_command_settings.c.tenant_id == tenant_id)
    ).first()
    return (
        None
        if row is None
        else StoredCommandSettings(row.webhook_url, row.signing_secret, row.timeout_seconds, row.commands)
    )


def of_tenant(engine: Engine, tenant_id: str) -> StoredCommandSettings | None:
    """The tenant's webhook as stored, or None without one."""
    with engine.connect() as connection:
        return _read(connection, tenant_id)


def change(
    engine: Engine,
    tenant_id: str,
    decide: Callable[[StoredCommandSettings | None], Change | None],
    *,
    actor: Actor | None,
) -> bool:
    """One save, in one transaction: `decide` gets the stored settings and says what to write (None: nothing);
    the row is inserted, updated or deleted and, with an `actor`, the change audited. False when nothing was
    written; NotFound for an unknown tenant. Whatever `decide` raises leaves everything as it was."""
    with engine.begin() as connection:
        if connection.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
            raise NotFound("tenant", tenant_id)
        stored = _read(connection, tenant_id)
        wanted = decide(stored)
        if wanted is None:
            return False
        where = telephony_command_settings.c.tenant_id == tenant_id
        if wanted.settings is None:
            connection.execute(delete(telephony_command_settings).where(where))
        else:
            values = {
                "webhook_url": wanted.settings.webhook_url,
                "signing_secret": wanted.settings.signing_secret,
                "timeout_seconds": wanted.settings.timeout_seconds,
                "commands": wanted.settings.commands,
                "updated_at": wanted.updated_at,
            }
            if stored is None:
                connection.execute(insert(telephony_command_settings).values(tenant_id=tenant_id, **values))
            else:
                connection.execute(update(telephony_command_settings).where(where).values(**values))
        if actor is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="telephony_settings.updated",
                target_type="telephony_settings",
                target_id=tenant_id,
                before=wanted.before,
                after=wanted.after,
            )
    return True
