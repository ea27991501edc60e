"""The Salesforce connector: Callbridge's CRM connector for a Salesforce org.

`SalesforceConnector` is the entry-point class
(`callbridge.connectors` group, name `salesforce`); `setup(deps)` builds one
for a tenant. The wire protocol is in `client.py`, the mapping to Callbridge's
connector protocol in `connector.py`, the admin's settings in `schema.py`,
and the Open CTI call-center definition in `call_center.py`. Open CTI itself
is used only by the console host modules `hosts/lightning.js` and
`hosts/classic.js`: nothing else depends on it.

A tenant connects through `validate_settings` and `from_settings`, which
Callbridge's CRM connections call: the connected app's consumer key and secret
and an integration user's refresh token, exchanged at the login host's token
endpoint (`refresh_token_source`). Any other `AccessTokenSource` plugs into
`setup` the same way. With `token_source: agent_sso`, `for_agent` builds a
connector acting as one agent with the tokens kept after the agent's single
sign-on (`agent_tokens.py`), falling back to the integration user's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from callbridge.connectors.base import AccessTokenSource

from .agent_tokens import AgentAccess, AgentSsoTokens
from .client import RefreshTokenGrant, SalesforceClient, SalesforceTokenRefused
from .connector import SalesforceConnector
from .schema import SalesforceConfig, SalesforceCredentials, TokenSource

__all__ = [
    "AgentAccess",
    "AgentSsoTokens",
    "SalesforceConfig",
    "SalesforceConnector",
    "SalesforceCredentials",
    "SalesforceDeps",
    "TokenSource",
    "for_agent",
    "from_settings",
    "refresh_token_source",
    "setup",
    "validate_settings",
]


@dataclass(frozen=True, slots=True)
class SalesforceDeps:
    """What the connector needs from Callbridge: its settings, a token source, an HTTP client."""

    config: SalesforceConfig
    tokens: AccessTokenSource
    http: httpx.AsyncClient


def setup(deps: SalesforceDeps) -> SalesforceConnector:
    client = SalesforceClient(
        instance_url=deps.config.instance_url,
        api_version=deps.config.api_version,
        tokens=deps.tokens,
        http=deps.http,
        timeout_seconds=deps.config.request_timeout_seconds,
    )
    return SalesforceConnector(deps.config, client)


def refresh_token_source(
    config: SalesforceConfig,
    credentials: SalesforceCredentials,
    http: httpx.AsyncClient,
    save: Callable[[str], Awaitable[None]] | None = None,
) -> RefreshTokenGrant:
    """The integration user's tokens: its refresh token exchanged at `config.token_url`."""
    return RefreshTokenGrant(
        token_url=config.token_url,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret.get_secret_value(),
        refresh_token=credentials.refresh_token.get_secret_value(),
        http=http,
        save=save,
        timeout_seconds=config.request_timeout_seconds,
    )


class NoCredentials:
    """The connection was saved without credentials: every call says what to enter."""

    async def access_token(self) -> str:
        raise SalesforceTokenRefused(
            "Salesforce is not connected yet: enter the connected app's consumer key (client_id) and secret "
            "(client_secret) and the integration user's refresh token (refresh_token).",
            status=0,
            error_code="missing_credentials",
        )

    async def refresh(self) -> str:
        return await self.access_token()


def validate_settings(config: Mapping[str, Any], secrets: Mapping[str, str] | None) -> dict[str, Any]:
    """Checks an admin's settings (raises pydantic's ValidationError naming the field)."""
    validated = SalesforceConfig.model_validate(dict(config))
    if secrets is not None:
        SalesforceCredentials.model_validate(dict(secrets))
    return validated.model_dump(mode="json")


def from_settings(
    config: Mapping[str, Any],
    secrets: Mapping[str, str],
    http: httpx.AsyncClient,
    save_secrets: Callable[[dict[str, str]], Awaitable[None]],
) -> SalesforceConnector:
    """A connector from stored settings, acting as the integration user; a rotated refresh token is saved
    back before it is used, and REST calls go to the `instance_url` Salesforce answers with."""
    settings = SalesforceConfig.model_validate(dict(config))
    if not secrets:
        return setup(SalesforceDeps(config=settings, tokens=NoCredentials(), http=http))
    credentials = SalesforceCredentials.model_validate(dict(secrets))

    async def save(refresh_token: str) -> None:
        await save_secrets({"refresh_token": refresh_token})

    tokens = refresh_token_source(settings, credentials, http, save)
    connector = setup(SalesforceDeps(config=settings, tokens=tokens, http=http))
    tokens.on_instance_url = connector.client.use_instance_url
    return connector


def for_agent(
    connector: SalesforceConnector, config: Mapping[str, Any], http: httpx.AsyncClient, agent: AgentAccess
) -> SalesforceConnector | None:
    """A connector acting as one agent, or None when the connection uses the integration user only
    (`token_source: integration_user`). `connector` is the tenant's connector from `from_settings`:
    its tokens (the integration user's) are the fallback when the agent has none."""
    settings = SalesforceConfig.model_validate(dict(config))
    if settings.token_source is not TokenSource.AGENT_SSO:
        return None
    tokens = AgentSsoTokens(agent, fallback=connector.client.tokens)
    agent_connector = setup(SalesforceDeps(config=settings, tokens=tokens, http=http))
    agent_connector.client.use_instance_url(connector.client.instance_url)
    tokens.on_instance_url = agent_connector.client.use_instance_url
    return agent_connector
