"""A tenant's API keys as the admin pages and API list them (secrets are never stored, only their hash)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Row, select

from callbridge.store.tables import api_keys


def list_keys(engine: Engine, tenant_id: str, *, revoked_last: bool = False) -> Sequence[Row[Any]]:
    """Oldest first; `revoked_last` puts the revoked ones after the live ones."""
    order = (api_keys.c.revoked_at.is_not(None), api_keys.c.created_at) if revoked_last else (api_keys.c.created_at,)
    with engine.connect() as connection:
        return connection.execute(select(api_keys).where(api_keys.c.tenant_id == tenant_id).order_by(*order)).all()
