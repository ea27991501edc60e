"""Settings of the built-in CRM, read from `CALLBRIDGE_CRM_*` environment variables."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callbridge_ratelimit import valid_rate

DEFAULT_PORT = 8100


class CrmSettings(BaseSettings):
    """Everything an operator can change; every field maps to `CALLBRIDGE_CRM_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="CALLBRIDGE_CRM_", extra="ignore")

    database_url: str = "sqlite:///callbridge-crm.sqlite3"
    # The CRM's own public URL: the OpenID Connect issuer and the base of every record link.
    base_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    organization_name: str = "Callbridge Demo Org"
    # Region used to read phone numbers written without a country code ("(415) 555 0100").
    default_region: str = "US"
    comments_max_bytes: int = 4000
    # Where the agent console lives; its origin is the only one the CTI host talks to.
    callbridge_console_url: str = "http://127.0.0.1:8000/console?tenant=demo"
    access_token_lifetime_seconds: int = 3600
    authorization_code_lifetime_seconds: int = 300
    # Brute-force protection of /login (callbridge_crm.throttle): wrong passwords for one account / from one
    # address before each further one makes it wait; the first wait, doubling with each failure, and the longest.
    login_account_failures: int = Field(default=5, ge=1)
    login_address_failures: int = Field(default=20, ge=1)
    login_delay_seconds: float = Field(default=1.0, gt=0)
    login_max_delay_seconds: float = Field(default=300.0, gt=0)
    # Addresses or networks of reverse proxies in front of the CRM, comma-separated: only from them are
    # X-Forwarded-For / X-Forwarded-Proto believed. Empty: the direct peer is the client.
    trusted_proxies: str = ""
    # Request rate limits per client address (callbridge_crm.rate_limits), in the `limits` notation: sign-in form
    # posts, and every other request that needs no session or token (the identity provider's endpoints…).
    rate_limit_sign_in: str = "60/minute"
    rate_limit_anonymous: str = "600/minute"
    # Where they are counted: empty (the database when it is PostgreSQL, memory otherwise), `memory`,
    # `database`, or a Redis URI (redis://host:6379/0).
    rate_limit_storage: str = ""

    @field_validator("rate_limit_sign_in", "rate_limit_anonymous")
    @classmethod
    def _rate(cls, value: str) -> str:
        return valid_rate(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        from .security import parse_proxies

        parse_proxies(value)
        return value

    @property
    def issuer(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def callbridge_origin(self) -> str:
        return origin_of(self.callbridge_console_url)


def origin_of(url: str) -> str:
    """The origin (`scheme://host[:port]`) of an absolute URL, as browsers report it in `event.origin`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is None or parts.port == default_port:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{parts.port}"
