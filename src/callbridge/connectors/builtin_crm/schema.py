"""Typed configuration of one tenant's connection to the built-in CRM."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class BuiltinCrmConfig(BaseModel):
    """What an admin enters (nothing secret): where the CRM is and how to read its phone numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: Annotated[str, Field(description="The CRM's URL, e.g. http://127.0.0.1:8100 (its OIDC issuer)")]
    default_region: Annotated[
        str,
        Field(
            pattern=r"^[A-Z]{2}$",
            description="Region of the CRM's numbers stored without a country code (read in the CRM's own "
            "default region too)",
        ),
    ] = "US"
    new_record_object_type: Annotated[str, Field(pattern=r"^(contact|lead|account|case)$")] = "contact"
    request_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("the CRM's URL must start with https:// (or http:// on a private network)")
        return value

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth2/token"


class BuiltinCrmCredentials(BaseModel):
    """The integration user's OAuth client and refresh token (kept encrypted by Callbridge).

    The refresh token comes from one authorization-code grant (the admin page's Connect) with the
    `offline_access`, `crm.read` and `crm.write` scopes, signed in as the CRM user that auto log writes as.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: Annotated[str, Field(min_length=1, max_length=200, title="OAuth client id")]
    client_secret: Annotated[SecretStr, Field(title="OAuth client secret")]
    refresh_token: Annotated[
        SecretStr | None,
        Field(
            title="Refresh token of the integration user (optional)",
            description="Leave empty and press Connect to sign in as the integration user instead.",
        ),
    ] = None
