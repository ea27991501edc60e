"""Access tokens from an OAuth 2.0 refresh token (RFC 6749 section 6), shared by the connectors.

What every CRM needs alike lives here: keep the access token until the CRM refuses it, serialise
refreshes so a burst of refusals costs one grant, and hand a rotated refresh token to `save` before
anything uses it (rotation may have revoked the old one). How the token endpoint is called and how
its refusals read belong to each vendor's client: a subclass implements `_grant` and may look at
the whole answer in `_answered`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class RefreshTokenSource:
    def __init__(self, refresh_token: str, save: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._refresh_token = refresh_token
        self._save = save
        self._access_token = ""
        self._lock = asyncio.Lock()
        self._generation = 0

    async def access_token(self) -> str:
        if self._access_token:
            return self._access_token
        return await self._renew(self._generation)

    async def refresh(self) -> str:
        return await self._renew(self._generation)

    async def _grant(self) -> dict[str, Any]:
        """Exchanges `self._refresh_token` at the token endpoint; answers the JSON with `access_token`."""
        raise NotImplementedError

    def _answered(self, body: dict[str, Any]) -> None:
        """Sees each successful answer (e.g. Salesforce's `instance_url`)."""

    async def _renew(self, seen_generation: int) -> str:
        async with self._lock:
            if self._generation != seen_generation and self._access_token:
                return self._access_token  # another caller refreshed while this one waited
            body = await self._grant()
            new_refresh = body.get("refresh_token")
            if isinstance(new_refresh, str) and new_refresh and new_refresh != self._refresh_token:
                # keep the new one even if storing it fails, but hand out no access token until it is stored
                self._refresh_token = new_refresh
                if self._save is not None:
                    await self._save(new_refresh)
            self._answered(body)
            self._access_token = str(body["access_token"])
            self._generation += 1
            return self._access_token
