"""The Salesforce connector: Callbridge's CRM connector for a Salesforce org.

`setup(deps)` builds a `SalesforceConnector` for a tenant. The wire protocol
is in `client.py`, the mapping to Callbridge's connector protocol in
`connector.py`, the admin's settings in `schema.py`, and the Open CTI
call-center definition in `call_center.py`. Open CTI itself is used only by
the console host modules `hosts/lightning.js` and
`hosts/classic.js`: nothing else depends on it.

`plugin` is what the `callbridge.connectors` entry point names: Callbridge's CRM
connections validate and build from it (`ConnectorPlugin.from_settings`): the
connected app's consumer key and secret and an integration user's refresh token
(from the admin page's Connect, or entered), exchanged at the login host's token
endpoint (`refresh_token_source`). Any other `AccessTokenSource` plugs into
`setup` the same way. With `token_source: agent_sso`, `for_agent` builds a
connector acting as one agent with the tokens kept after the agent's single
sign-on (`agent_tokens.py`), falling back to the integration user's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from callbridge.connectors.base import AccessTokenSource, ConnectorDeps
from callbridge.connectors.plugin import AdminForm, ConnectorPlugin, OAuthEndpoints
from callbridge.connectors.refresh_tokens import integration_user_tokens

from .agent_tokens import AgentAccess, AgentSsoTokens
from .client import RefreshTokenGrant, SalesforceClient
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
    "plugin",
    "refresh_token_source",
    "setup",
]


SalesforceDeps = ConnectorDeps[SalesforceConfig]


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
    return integration_user_tokens(RefreshTokenGrant, config, credentials, http, save)


def _connector(config: SalesforceConfig, tokens: AccessTokenSource, http: httpx.AsyncClient) -> SalesforceConnector:
    return setup(SalesforceDeps(config=config, tokens=tokens, http=http))


def _follow_instance_url(connector: SalesforceConnector, tokens: AccessTokenSource) -> None:
    """REST calls go to the `instance_url` each token answer names."""
    if isinstance(tokens, RefreshTokenGrant):
        tokens.on_instance_url = connector.client.use_instance_url


def _oauth(config: SalesforceConfig) -> OAuthEndpoints:
    oauth = f"{config.login_host}/services/oauth2"
    return OAuthEndpoints(
        authorize_url=f"{oauth}/authorize",
        token_url=config.token_url,
        scope="openid email profile api refresh_token",
        userinfo_url=f"{oauth}/userinfo",
        revoke_url=f"{oauth}/revoke",
    )


def for_agent(
    connector: SalesforceConnector, settings: SalesforceConfig, http: httpx.AsyncClient, agent: AgentAccess
) -> SalesforceConnector | None:
    """A connector acting as one agent, or None when the connection uses the integration user only
    (`token_source: integration_user`). `connector` is the tenant's connector from `from_settings`:
    its tokens (the integration user's) are the fallback when the agent has none."""
    if settings.token_source is not TokenSource.AGENT_SSO:
        return None
    tokens = AgentSsoTokens(agent, fallback=connector.client.tokens)
    agent_connector = setup(SalesforceDeps(config=settings, tokens=tokens, http=http))
    agent_connector.client.use_instance_url(connector.client.instance_url)
    tokens.on_instance_url = agent_connector.client.use_instance_url
    return agent_connector


plugin: ConnectorPlugin[SalesforceConfig, SalesforceCredentials, SalesforceConnector] = ConnectorPlugin(
    name="salesforce",
    label="Salesforce",
    config_model=SalesforceConfig,
    credentials_model=SalesforceCredentials,
    connector=_connector,
    refresh_tokens=refresh_token_source,
    oauth=_oauth,
    agent_connector=for_agent,
    connected=_follow_instance_url,
    admin=AdminForm(
        option_labels={
            "production": "Production (login.salesforce.com)",
            "sandbox": "Sandbox (test.salesforce.com)",
            "my_domain": "My Domain (the org's own login host)",
        },
        credentials_help=(
            "The connected app's consumer key (client_id) and consumer secret (client_secret), from Setup → "
            "App Manager. Its callback URL must include the Connect address shown above; "
            "OAuth scopes: api, refresh_token (offline_access), openid."
        ),
    ),
)
