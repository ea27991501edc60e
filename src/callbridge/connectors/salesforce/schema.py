"""Typed configuration of one tenant's Salesforce connection: the admin's settings
(`SalesforceConfig`, shown back to admins) and the connected app's credentials
(`SalesforceCredentials`, write-only, stored encrypted by Callbridge)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

DEFAULT_API_VERSION = "62.0"
DEFAULT_EXTERNAL_ID_FIELD = "Callbridge_Interaction_Id__c"

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


class Environment(StrEnum):
    """Which login host the org signs in on (salesforce.md section 4)."""

    PRODUCTION = "production"  # https://login.salesforce.com
    SANDBOX = "sandbox"  # https://test.salesforce.com
    MY_DOMAIN = "my_domain"  # the org's own https://<name>.my.salesforce.com


class ActivityKeyMode(StrEnum):
    """How a call log is made idempotent.

    `external_id`: upsert on the custom External ID field (the normal case).
    `call_object`: for an org where the custom field cannot be created, the
    interaction id goes into the standard `CallObject` field and the connector
    queries by it before creating. This is only safe because the outbox writes
    one interaction's log from one worker at a time.
    """

    EXTERNAL_ID = "external_id"
    CALL_OBJECT = "call_object"


class TokenSource(StrEnum):
    """Whose Salesforce tokens the connector uses.

    `integration_user`: the integration user's refresh token (the credentials), for every call.
    `agent_sso`: the agent's own tokens, kept after the agent signed in through Salesforce single
    sign-on, when the call is made for an agent (screen pop, auto log); the integration user's
    otherwise (no agent known, or the agent has no tokens).
    """

    INTEGRATION_USER = "integration_user"
    AGENT_SSO = "agent_sso"


class UiExperience(StrEnum):
    LIGHTNING = "lightning"
    CLASSIC = "classic"


LOGIN_HOSTS = {
    Environment.PRODUCTION: "https://login.salesforce.com",
    Environment.SANDBOX: "https://test.salesforce.com",
}


def _origin(value: str) -> str:
    """`https://host[:port]` and nothing else: no path, query, fragment or user name."""
    value = value.strip().rstrip("/")
    if not value:
        return value
    if not value.startswith("https://"):
        raise ValueError("Salesforce URLs must use https://")
    parts = urlsplit(value)
    if not parts.hostname or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("give the host only, e.g. https://acme.my.salesforce.com (no path)")
    return value


def _api_name(value: str) -> str:
    if not _API_NAME.match(value):
        raise ValueError(f"{value!r} is not a Salesforce API name")
    return value


class SalesforceConfig(BaseModel):
    """One tenant's Salesforce settings, as entered by its admin."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_url: Annotated[str, Field(description="The org's My Domain URL, e.g. https://acme.my.salesforce.com")]
    environment: Annotated[Environment, Field(validate_default=True)] = Environment.PRODUCTION
    login_url: str = ""  # only for my_domain: the host agents sign in on
    api_version: Annotated[str, Field(pattern=r"^\d{2,3}\.0$")] = DEFAULT_API_VERSION
    activity_key_mode: ActivityKeyMode = ActivityKeyMode.EXTERNAL_ID
    external_id_field: str = DEFAULT_EXTERNAL_ID_FIELD
    ui: UiExperience = UiExperience.LIGHTNING
    default_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "US"
    search_objects: tuple[str, ...] = ("Contact", "Lead", "Account")
    task_type_by_channel: dict[str, str] = Field(
        default_factory=lambda: {"phone": "Call", "voicemail": "Call", "chat": "Other"}
    )
    request_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 30.0
    token_source: TokenSource = TokenSource.INTEGRATION_USER

    @field_validator("instance_url", "login_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return _origin(value)

    @field_validator("instance_url")
    @classmethod
    def _required(cls, value: str) -> str:
        if not value:
            raise ValueError("the org's instance URL is required, e.g. https://acme.my.salesforce.com")
        return value

    @field_validator("environment")
    @classmethod
    def _sandbox_is_not_production(cls, value: Environment, info: ValidationInfo) -> Environment:
        if value is Environment.PRODUCTION and ".sandbox.my.salesforce.com" in info.data.get("instance_url", ""):
            raise ValueError(
                "the instance URL is a sandbox's: choose sandbox (test.salesforce.com) or my_domain, "
                "since a sandbox's tokens are refused by login.salesforce.com"
            )
        return value

    @field_validator("login_url")
    @classmethod
    def _login_url_only_for_my_domain(cls, value: str, info: ValidationInfo) -> str:
        if value and info.data.get("environment", Environment.PRODUCTION) is not Environment.MY_DOMAIN:
            raise ValueError("only used with environment my_domain; leave it empty otherwise")
        return value

    @field_validator("external_id_field")
    @classmethod
    def _custom_field(cls, value: str) -> str:
        _api_name(value)
        if not value.endswith("__c"):
            raise ValueError("the external id field is a custom field; its API name ends in __c")
        return value

    @field_validator("search_objects")
    @classmethod
    def _objects(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_api_name(v) for v in value)

    @property
    def sandbox(self) -> bool:
        return self.environment is Environment.SANDBOX or ".sandbox.my.salesforce.com" in self.instance_url

    @property
    def login_host(self) -> str:
        if self.environment is Environment.MY_DOMAIN:
            return self.login_url or self.instance_url
        return LOGIN_HOSTS[self.environment]

    @property
    def token_url(self) -> str:
        """Salesforce's OAuth 2.0 token endpoint on the login host."""
        return f"{self.login_host}/services/oauth2/token"


class SalesforceCredentials(BaseModel):
    """The connected app's consumer key and secret, and the integration user's refresh token.

    Write-only: Callbridge stores them encrypted and never shows them again. The refresh
    token comes from one web-server (authorization-code) sign-in to the connected app with
    the scopes `api` and `refresh_token` (`offline_access`), as the Salesforce user that
    auto log writes as.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: Annotated[str, Field(title="Consumer key (client_id)")]
    client_secret: Annotated[SecretStr, Field(title="Consumer secret (client_secret)")]
    refresh_token: Annotated[
        SecretStr | None,
        Field(
            title="Refresh token of the integration user (optional)",
            description="Leave empty and press Connect to sign in as the integration user instead.",
        ),
    ] = None

    @field_validator("client_id", "client_secret", "refresh_token", mode="before")
    @classmethod
    def _token_like(cls, value: object) -> object:
        """One printable word, as Salesforce issues them (a pasted value often carries spaces)."""
        if isinstance(value, str):
            value = value.strip()
            if not value:
                raise ValueError("must not be empty")
            if len(value) > 2048 or not value.isprintable() or any(c.isspace() for c in value):
                raise ValueError("must be one word of at most 2048 printable characters, as Salesforce shows it")
        return value
