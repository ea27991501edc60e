"""The built-in CRM connector: Callbridge's CRM connector for its own embedded CRM.

`plugin` is what the `callbridge.connectors` entry point (name `builtin_crm`)
names; `setup(deps)` builds a `BuiltinCrmConnector` for a tenant. The wire
protocol (REST API, OAuth token endpoint) is in `client.py`, the mapping to
Callbridge's connector protocol in `connector.py`, the admin's settings in
`schema.py`.

Tokens: any `AccessTokenSource` plugs in (for example the tokens kept after an
agent's single sign-on). `refresh_token_source()` builds the one Callbridge
uses for auto log: an integration user's refresh token (from the admin page's
Connect, or entered), exchanged at the CRM's token endpoint, rotated tokens
handed to `save`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from callbridge.connectors.base import AccessTokenSource, ConnectorDeps
from callbridge.connectors.plugin import AdminForm, ConnectorPlugin, OAuthEndpoints
from callbridge.connectors.refresh_tokens import integration_user_tokens

from .client import BuiltinCrmClient, RefreshTokenGrant, StaticToken
from .connector import BuiltinCrmConnector
from .schema import BuiltinCrmConfig, BuiltinCrmCredentials

__all__ = [
    "BuiltinCrmConfig",
    "BuiltinCrmConnector",
    "BuiltinCrmCredentials",
    "BuiltinCrmDeps",
    "StaticToken",
    "plugin",
    "refresh_token_source",
    "setup",
]


BuiltinCrmDeps = ConnectorDeps[BuiltinCrmConfig]


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
    return integration_user_tokens(RefreshTokenGrant, config, credentials, http, save)


def _connector(config: BuiltinCrmConfig, tokens: AccessTokenSource, http: httpx.AsyncClient) -> BuiltinCrmConnector:
    return setup(BuiltinCrmDeps(config=config, tokens=tokens, http=http))


def _oauth(config: BuiltinCrmConfig) -> OAuthEndpoints:
    return OAuthEndpoints(
        authorize_url=f"{config.base_url}/oauth2/authorize",
        token_url=config.token_url,
        scope="openid email profile crm.read crm.write offline_access",
        userinfo_url=f"{config.base_url}/oauth2/userinfo",
        revoke_url=f"{config.base_url}/oauth2/revoke",
        client_auth="client_secret_basic",
    )


plugin: ConnectorPlugin[BuiltinCrmConfig, BuiltinCrmCredentials, BuiltinCrmConnector] = ConnectorPlugin(
    name="builtin_crm",
    label="Built-in CRM",
    config_model=BuiltinCrmConfig,
    credentials_model=BuiltinCrmCredentials,
    connector=_connector,
    refresh_tokens=refresh_token_source,
    oauth=_oauth,
    admin=AdminForm(
        credentials_help=(
            "The OAuth client registered in the CRM for Callbridge (callbridge-crm clients create): its "
            "client_id and client_secret. Its redirect URIs must include the Connect address shown above. "
            "Scopes: crm.read crm.write offline_access."
        ),
    ),
)
