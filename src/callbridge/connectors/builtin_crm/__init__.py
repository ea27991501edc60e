"""The built-in CRM connector: Callbridge's CRM connector for its own embedded CRM.

`BuiltinCrmConnector` is the entry-point class (`callbridge.connectors` group,
name `builtin_crm`); `setup(deps)` builds one for a tenant. The wire protocol
(REST API, OAuth token endpoint) is in `client.py`, the mapping to
Callbridge's connector protocol in `connector.py`, the admin's settings in
`schema.py`.

Tokens: any `AccessTokenSource` plugs in (for example the tokens kept after an
agent's single sign-on). `refresh_token_source()` builds the one Callbridge
uses for auto log: an integration user's refresh token, exchanged at the
CRM's token endpoint, rotated tokens handed to `save`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from callbridge.connectors.base import AccessTokenSource

from .client import BuiltinCrmClient, RefreshTokenGrant, StaticToken
from .connector import BuiltinCrmConnector
from .schema import BuiltinCrmConfig, BuiltinCrmCredentials

__all__ = [
    "BuiltinCrmConfig",
    "BuiltinCrmConnector",
    "BuiltinCrmCredentials",
    "BuiltinCrmDeps",
    "StaticToken",
    "from_settings",
    "refresh_token_source",
    "setup",
    "validate_settings",
]


@dataclass(frozen=True, slots=True)
class BuiltinCrmDeps:
    """What the connector needs from Callbridge: its settings, a token source, an HTTP client."""

    config: BuiltinCrmConfig
    tokens: AccessTokenSource
    http: httpx.AsyncClient


def setup(deps: BuiltinCrmDeps) -> BuiltinCrmConnector:
    client = BuiltinCrmClient(
        base_url=deps.config.base_url,
        tokens=deps.tokens,
        http=deps.http,
        timeout_seconds=deps.config.request_timeout_seconds,
    )
    return BuiltinCrmConnector(deps.config, client)


def refresh_token_source(
    config: BuiltinCrmConfig,
    credentials: BuiltinCrmCredentials,
    http: httpx.AsyncClient,
    save: Callable[[str], Awaitable[None]] | None = None,
) -> AccessTokenSource:
    return RefreshTokenGrant(
        token_url=config.token_url,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret.get_secret_value(),
        refresh_token=credentials.refresh_token.get_secret_value(),
        http=http,
        save=save,
        timeout_seconds=config.request_timeout_seconds,
    )


def validate_settings(config: Mapping[str, Any], secrets: Mapping[str, str] | None) -> dict[str, Any]:
    """Checks an admin's settings (raises pydantic's ValidationError naming the field)."""
    validated = BuiltinCrmConfig.model_validate(dict(config))
    if secrets is not None:
        BuiltinCrmCredentials.model_validate(dict(secrets))
    return validated.model_dump(mode="json")


def from_settings(
    config: Mapping[str, Any],
    secrets: Mapping[str, str],
    http: httpx.AsyncClient,
    save_secrets: Callable[[dict[str, str]], Awaitable[None]],
) -> BuiltinCrmConnector:
    """A connector from stored settings: the integration user's refresh token, rotated tokens saved back."""
    settings = BuiltinCrmConfig.model_validate(dict(config))
    tokens: AccessTokenSource
    if "refresh_token" in secrets:
        credentials = BuiltinCrmCredentials.model_validate(dict(secrets))

        async def save(refresh_token: str) -> None:
            await save_secrets({"refresh_token": refresh_token})

        tokens = refresh_token_source(settings, credentials, http, save)
    else:
        tokens = StaticToken(str(secrets.get("access_token", "")))
    return setup(BuiltinCrmDeps(config=settings, tokens=tokens, http=http))
