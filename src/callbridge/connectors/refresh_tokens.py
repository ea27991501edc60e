"""Access tokens from an OAuth 2.0 refresh token (RFC 6749 section 6), shared by the connectors.

What every CRM needs alike lives here: keep the access token until the CRM refuses it, serialise
refreshes so a burst of refusals costs one grant, and hand a rotated refresh token to `save` before
anything uses it (rotation may have revoked the old one). How the token endpoint is called and how
its refusals read belong to each vendor's client: a subclass implements `_grant` and may look at
the whole answer in `_answered`, and says in `_grant_refused` which error means the refresh token itself
was refused (`invalid_grant`).

Several nodes (or processes) share one stored refresh token. When one rotates it, the copy the others
hold is revoked: before a refusal counts, the stored token is read again (`reload`), and if it changed,
the grant is tried once more with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import SecretStr


class RefreshTokenSource:
    def __init__(self, refresh_token: str, save: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._refresh_token = refresh_token
        self._save = save
        self._access_token = ""
        self._lock = asyncio.Lock()
        self._generation = 0
        # reads the refresh token as stored now (another node may have rotated it); None: nothing to read
        self.reload: Callable[[], Awaitable[str]] | None = None

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

    def _grant_refused(self, error: Exception) -> bool:
        """Whether `error` from `_grant` says the refresh token itself was refused (`invalid_grant`)."""
        return False

    async def _grant_with_stored(self) -> dict[str, Any]:
        try:
            return await self._grant()
        except Exception as error:
            if self.reload is None or not self._grant_refused(error):
                raise
            stored = await self.reload()
            if not stored or stored == self._refresh_token:
                raise  # the stored token is the one refused: the connection is really broken
            self._refresh_token = stored  # rotated by another node, which stored it: that one counts
            return await self._grant()

    async def _renew(self, seen_generation: int) -> str:
        async with self._lock:
            if self._generation != seen_generation and self._access_token:
                return self._access_token  # another caller refreshed while this one waited
            body = await self._grant_with_stored()
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


class TokenEndpointSettings(Protocol):
    """The part of a connector's settings that says where its token endpoint is and how long to wait."""

    @property
    def token_url(self) -> str: ...

    @property
    def request_timeout_seconds(self) -> float: ...


class OAuthClientCredentials(Protocol):
    """The part of a connector's credentials that an OAuth client and its integration user hold."""

    @property
    def client_id(self) -> str: ...

    @property
    def client_secret(self) -> SecretStr: ...

    @property
    def refresh_token(self) -> SecretStr | None: ...


GrantT = TypeVar("GrantT", bound=RefreshTokenSource)


def integration_user_tokens(
    grant: Callable[..., GrantT],
    config: TokenEndpointSettings,
    credentials: OAuthClientCredentials,
    http: httpx.AsyncClient,
    save: Callable[[str], Awaitable[None]] | None = None,
) -> GrantT:
    """The integration user's tokens, as every connector wires them: its refresh token exchanged at the
    connection's token endpoint by the vendor's `grant` class, each rotated token handed to `save`."""
    refresh_token = credentials.refresh_token
    return grant(
        token_url=config.token_url,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret.get_secret_value(),
        refresh_token=refresh_token.get_secret_value() if refresh_token is not None else "",
        http=http,
        save=save,
        timeout_seconds=config.request_timeout_seconds,
    )
