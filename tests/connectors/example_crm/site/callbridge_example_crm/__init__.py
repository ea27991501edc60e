"""A third party's CRM connector, as its own distribution would ship it: one package exporting a
`ConnectorPlugin` through the `callbridge.connectors` entry point (see the .dist-info beside it). It talks
to no real CRM: its connector is Callbridge's `FakeCrm`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from callbridge.connectors.base import AccessTokenSource
from callbridge.connectors.fake import FakeCrm
from callbridge.connectors.plugin import AdminForm, ConnectorPlugin, NotConnected, OAuthEndpoints, SaveRefreshToken


class Region(StrEnum):
    EU = "eu"
    US = "us"


class ExampleCrmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    workspace: Annotated[
        str, Field(min_length=1, title="Workspace name", description="As in https://<workspace>.example-crm.test")
    ]
    region: Region = Region.EU
    request_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0


class ExampleCrmCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: Annotated[str, Field(min_length=1, title="App id")]
    client_secret: Annotated[SecretStr, Field(title="App secret")]
    refresh_token: SecretStr | None = None


def _connector(config: ExampleCrmConfig, tokens: AccessTokenSource, http: httpx.AsyncClient) -> FakeCrm:
    return FakeCrm()


def _tokens(
    config: ExampleCrmConfig, credentials: ExampleCrmCredentials, http: httpx.AsyncClient, save: SaveRefreshToken
) -> AccessTokenSource:
    return NotConnected("Example CRM")


def _oauth(config: ExampleCrmConfig) -> OAuthEndpoints:
    base = f"https://{config.workspace}.example-crm.test"
    return OAuthEndpoints(authorize_url=f"{base}/authorize", token_url=f"{base}/token", scope="activities offline")


plugin = ConnectorPlugin(
    name="example_crm",
    label="Example CRM",
    config_model=ExampleCrmConfig,
    credentials_model=ExampleCrmCredentials,
    connector=_connector,
    refresh_tokens=_tokens,
    oauth=_oauth,
    admin=AdminForm(
        option_labels={"eu": "Europe (Frankfurt)", "us": "United States (Virginia)"},
        credentials_help="Create an app under Settings → Apps in Example CRM.",
    ),
)
