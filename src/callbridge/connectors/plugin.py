"""The typed plugin object every CRM connector package exports (`callbridge.connectors` entry points).

A `ConnectorPlugin` says everything Callbridge needs to offer a CRM to a tenant's admin and to talk to it:

- `name` (the entry-point name, stored with each connection) and `label` (the words admins read);
- `config_model` (the admin's settings, shown back) and `credentials_model` (write-only, stored encrypted);
  both strict Pydantic models, whose fields the admin page renders and whose errors name the field;
- `oauth(config)`: the CRM's OAuth 2.0 endpoints and scopes, for the admin's "Connect" (authorization
  code with PKCE, as the integration user) and "Revoke";
- `connector(config, tokens, http)`: a live `CrmConnector` from settings and an `AccessTokenSource`;
- `refresh_tokens(config, credentials, http, save)`: the vendor's refresh-token grant (token endpoint
  refusals read in the vendor's words), whose rotated refresh tokens are handed to `save`;
- optionally `agent_connector(connector, config, http, agent)`: a connector acting as one agent;
- `admin`: what the admin page shows besides the models' fields.

The wiring every OAuth CRM shares (validate the settings, build the token source from the stored
credentials, save a rotated refresh token before using it, say what to do when nothing is connected yet)
is here, once, in `validate` and `from_settings`.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, Literal, Protocol, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from callbridge.connectors.base import AccessTokenSource, CrmAuthError, CrmConnector
from callbridge.connectors.refresh_tokens import RefreshTokenSource

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "callbridge.connectors"

ConfigT = TypeVar("ConfigT", bound=BaseModel)
CredentialsT = TypeVar("CredentialsT", bound=BaseModel)
ConnectorT = TypeVar("ConnectorT", bound=CrmConnector)

SaveSecrets = Callable[[dict[str, str]], Awaitable[None]]
LoadSecrets = Callable[[], Awaitable[dict[str, str]]]
SaveRefreshToken = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class OAuthEndpoints:
    """Where the CRM's OAuth 2.0 authorization server answers, and what Callbridge asks it for."""

    authorize_url: str
    token_url: str
    scope: str  # space-separated, including what yields a refresh token (offline_access, refresh_token)
    userinfo_url: str = ""  # OpenID Connect userinfo: who the integration user is
    revoke_url: str = ""  # RFC 7009 token revocation
    # how the client authenticates at the token and revocation endpoints
    client_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_post"


@dataclass(frozen=True, slots=True)
class AdminForm:
    """What the admin page shows besides the settings models' own fields and descriptions."""

    # words for enum values, e.g. {"sandbox": "Sandbox (test.salesforce.com)"}
    option_labels: Mapping[str, str] = field(default_factory=dict)
    # shown above the credentials: where they come from in this CRM
    credentials_help: str = ""


class AgentAccess(Protocol):
    """One agent's provider tokens (kept after single sign-on), for a connector acting as that agent."""

    async def access_token(self) -> Any: ...

    async def refresh(self) -> Any: ...


class NotConnected:
    """The connection has no refresh token yet: every call says what to do, as a `CrmAuthError`."""

    def __init__(self, label: str) -> None:
        self.message = (
            f"{label} is not connected yet: enter the OAuth client's client_id and client_secret, then press "
            "Connect and sign in as the integration user (or enter that user's refresh_token)."
        )

    async def access_token(self) -> str:
        raise CrmAuthError(self.message, code="missing_credentials")

    async def refresh(self) -> str:
        return await self.access_token()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorPlugin(Generic[ConfigT, CredentialsT, ConnectorT]):
    name: str
    label: str
    config_model: type[ConfigT]
    credentials_model: type[CredentialsT]
    connector: Callable[[ConfigT, AccessTokenSource, httpx.AsyncClient], ConnectorT]
    refresh_tokens: Callable[[ConfigT, CredentialsT, httpx.AsyncClient, SaveRefreshToken], AccessTokenSource]
    oauth: Callable[[ConfigT], OAuthEndpoints]
    agent_connector: Callable[[ConnectorT, ConfigT, httpx.AsyncClient, AgentAccess], ConnectorT | None] | None = None
    # called once a tenant's connector is built from settings, with its token source (e.g. to follow the
    # instance URL a token answer names)
    connected: Callable[[ConnectorT, AccessTokenSource], None] | None = None
    admin: AdminForm = field(default_factory=AdminForm)

    # ------------------------------------------------------------------ settings

    def settings(self, config: Mapping[str, Any]) -> ConfigT:
        """The stored or entered settings as the typed model (raises pydantic's ValidationError)."""
        return self.config_model.model_validate(dict(config))

    def validate(self, config: Mapping[str, Any], secrets: Mapping[str, str] | None) -> dict[str, Any]:
        """Checks an admin's settings (`secrets` None: the stored ones are kept); raises pydantic's
        ValidationError naming the field. Answers the settings normalised, as they are stored."""
        validated = self.settings(config)
        if secrets is not None:
            self.credentials_model.model_validate(dict(secrets))
        return validated.model_dump(mode="json")

    def credential_names(self) -> list[str]:
        return list(self.credentials_model.model_fields)

    def secret_names(self) -> set[str]:
        """Credentials shown as passwords (never echoed back)."""
        return {n for n, f in self.credentials_model.model_fields.items() if _is_secret(f.annotation)}

    # ------------------------------------------------------------------ building

    def from_settings(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        http: httpx.AsyncClient,
        save_secrets: SaveSecrets,
        load_secrets: LoadSecrets | None = None,
    ) -> ConnectorT:
        """A connector from stored settings, acting as the integration user: its refresh token exchanged at
        the CRM's token endpoint, a rotated one stored (`save_secrets`) before anything uses it. Without a
        refresh token, every call says how to connect. No I/O here: the first call signs in.

        `load_secrets`: the credentials as stored now. A refresh token the CRM refuses (`invalid_grant`) is
        read again from there before the refusal counts: another node may have rotated it."""
        settings = self.settings(config)
        tokens: AccessTokenSource
        if secrets.get("refresh_token"):
            credentials = self.credentials_model.model_validate(dict(secrets))

            async def save(refresh_token: str) -> None:
                await save_secrets({"refresh_token": refresh_token})

            tokens = self.refresh_tokens(settings, credentials, http, save)
            if load_secrets is not None and isinstance(tokens, RefreshTokenSource):
                tokens.reload = _stored_refresh_token(load_secrets)
        else:
            tokens = NotConnected(self.label)
        built = self.connector(settings, tokens, http)
        if self.connected is not None:
            self.connected(built, tokens)
        return built

    def for_agent(
        self, connector: ConnectorT, config: Mapping[str, Any], http: httpx.AsyncClient, agent: AgentAccess
    ) -> ConnectorT | None:
        """A connector acting as one agent, or None when this CRM (or these settings) act as the
        integration user only. `connector` is the tenant's, from `from_settings`."""
        if self.agent_connector is None:
            return None
        return self.agent_connector(connector, self.settings(config), http, agent)


def _stored_refresh_token(load_secrets: LoadSecrets) -> Callable[[], Awaitable[str]]:
    async def reload() -> str:
        return (await load_secrets()).get("refresh_token", "")

    return reload


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or (hasattr(annotation, "__args__") and SecretStr in annotation.__args__)


AnyPlugin = ConnectorPlugin[Any, Any, Any]

# The connectors that ship with Callbridge, found even before the package's entry points are (re)installed.
BUILT_IN = {
    "builtin_crm": "callbridge.connectors.builtin_crm:plugin",
    "salesforce": "callbridge.connectors.salesforce:plugin",
}


def discover() -> dict[str, AnyPlugin]:
    """Every connector plugin installed, by entry-point name. An entry that cannot be loaded, or is not a
    `ConnectorPlugin` named like its entry point, is left out with the reason logged."""
    found: dict[str, AnyPlugin] = {}
    candidates: list[tuple[str, Callable[[], object]]] = [
        (entry.name, entry.load) for entry in entry_points(group=ENTRY_POINT_GROUP)
    ]
    for name, target in BUILT_IN.items():
        candidates.append((name, functools.partial(_load, target)))
    for name, load in candidates:
        if name in found:
            continue
        try:
            plugin = load()
        except Exception:
            log.exception("connector plugin %s cannot be loaded", name)
            continue
        if not isinstance(plugin, ConnectorPlugin):
            log.error("connector entry point %s is not a ConnectorPlugin (got %r); skipped", name, plugin)
            continue
        if plugin.name != name:
            log.error("connector entry point %s names a plugin called %s; skipped", name, plugin.name)
            continue
        found[name] = plugin
    return found


def _load(target: str) -> object:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
