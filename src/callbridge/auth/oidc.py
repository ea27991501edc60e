"""Callbridge as an OpenID Connect / OAuth 2.0 relying party.

Authlib's client does the protocol (authorization URL with PKCE S256, code exchange, revocation);
joserfc verifies ID tokens (signature from the provider's JWKS, `iss`, `aud`, `azp`, `nonce`, `exp`).
This module knows the three kinds of provider a tenant can sign in with:

* `builtin_crm`: Callbridge's built-in CRM, a standard OpenID Connect provider found by its issuer;
* `salesforce`: production (login.salesforce.com), sandbox (test.salesforce.com) or a My Domain host;
  agents are keyed on Salesforce's (organization_id, user_id) from the userinfo endpoint;
* `oidc`: any standard provider, by issuer or discovery URL.

Nothing here touches the database: `callbridge.services.sso` decides what an identity means.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from callbridge.outbound import OutboundPolicy

with warnings.catch_warnings():
    # Authlib prefers the `httpx2` package when it is installed and falls back to httpx with a notice.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

SALESFORCE_PRODUCTION_HOST = "login.salesforce.com"
SALESFORCE_SANDBOX_HOST = "test.salesforce.com"
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
CLOCK_LEEWAY_SECONDS = 60
METADATA_TTL_SECONDS = 300
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


# What a person reads when the provider's answer fails a check: which check is for the log only.
UNVERIFIED = "your CRM's answer could not be verified, so Callbridge did not sign you in"


class ProviderKind(StrEnum):
    BUILTIN_CRM = "builtin_crm"
    SALESFORCE = "salesforce"
    OIDC = "oidc"


DEFAULT_SCOPES: dict[ProviderKind, str] = {
    ProviderKind.BUILTIN_CRM: "openid email profile crm.read crm.write offline_access",
    ProviderKind.SALESFORCE: "openid email profile api refresh_token",
    ProviderKind.OIDC: "openid email profile",
}
DEFAULT_NAMES: dict[ProviderKind, str] = {
    ProviderKind.BUILTIN_CRM: "Callbridge CRM",
    ProviderKind.SALESFORCE: "Salesforce",
    ProviderKind.OIDC: "your identity provider",
}


class SignInRefused(Exception):
    """The provider's answer cannot be trusted or does not identify an agent; `code` is machine-readable.

    `message` is what the person signing in reads (plain words, never which check stopped a forger);
    `detail` is for the log (the library's own words), `tenant_id` once known."""

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.tenant_id = ""


def require_secure_url(url: str, what: str) -> str:
    """Provider URLs must be HTTPS; plain HTTP only on this machine (development and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS:
        return url
    raise ValueError(f"{what} must be an https:// URL (http:// only on localhost): {url!r}")


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """A tenant's identity provider, as the admin configured it (client secret decrypted)."""

    tenant_id: str
    kind: ProviderKind
    display_name: str
    client_id: str
    client_secret: str | None
    scope: str
    issuer: str = ""  # builtin_crm / oidc
    discovery_url: str = ""  # oidc: when not <issuer>/.well-known/openid-configuration
    login_host: str = ""  # salesforce: production host or My Domain host
    sandbox_login_host: str = ""  # salesforce: sandbox host (test.salesforce.com or a sandbox My Domain)

    def expected_issuer(self, sandbox: bool) -> str:
        if self.kind is ProviderKind.SALESFORCE:
            host = (self.sandbox_login_host or SALESFORCE_SANDBOX_HOST) if sandbox else self.login_host
            return f"https://{host or SALESFORCE_PRODUCTION_HOST}"
        return self.issuer.rstrip("/")

    def metadata_url(self, sandbox: bool) -> str:
        if self.kind is ProviderKind.OIDC and self.discovery_url:
            return self.discovery_url
        return f"{self.expected_issuer(sandbox)}/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in. (issuer_key, subject) is the stable key; the rest is profile."""

    issuer_key: str
    subject: str
    email: str
    email_verified: bool
    name: str
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    token_type: str
    scope: str
    expires_at: float | None
    instance_url: str  # Salesforce only
    id_token: str


def _email_verified(value: Any) -> bool:
    # Absent means unverified. Some providers send the string "true".
    return value is True or (isinstance(value, str) and value.lower() == "true")


class RelyingParty:
    """Talks to identity providers; caches discovery documents and key sets for a few minutes."""

    def __init__(self, clock: Any = time.time, policy: OutboundPolicy | None = None) -> None:
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self.policy = policy or OutboundPolicy()

    def _http(self) -> httpx.AsyncClient:
        """Every request to the provider goes through the outbound policy and follows no redirect."""
        return self.policy.client()

    async def _get_json(self, url: str, what: str, *, fresh: bool = False) -> dict[str, Any]:
        now = self._clock()
        cached = self._cache.get(url)
        if cached is not None and not fresh and cached[0] > now:
            return cached[1]
        require_secure_url(url, what)
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise SignInRefused("provider_unreachable", f"the identity provider cannot be reached ({what})") from error
        if response.status_code != 200:
            raise SignInRefused("provider_error", f"the identity provider answered {response.status_code} ({what})")
        document: Any = response.json()
        if not isinstance(document, dict):
            raise SignInRefused("provider_error", f"the identity provider sent no JSON object ({what})")
        self._cache[url] = (now + METADATA_TTL_SECONDS, document)
        return document

    async def metadata(self, config: ProviderConfig, sandbox: bool) -> dict[str, Any]:
        """The provider's discovery document; its issuer must be exactly the configured one (mix-up defence)."""
        document = await self._get_json(config.metadata_url(sandbox), "discovery document")
        expected = config.expected_issuer(sandbox)
        if str(document.get("issuer", "")).rstrip("/") != expected:
            raise SignInRefused(
                "wrong_issuer", f"the provider says it is {document.get('issuer')!r}, not the configured {expected!r}"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str):
                raise SignInRefused("provider_error", f"the provider's discovery document has no {key}")
            require_secure_url(document[key], key)
        return document

    def _client(self, config: ProviderConfig, metadata: dict[str, Any], redirect_uri: str) -> AsyncOAuth2Client:
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if config.client_secret is None:
            auth_method = "none"
        elif "client_secret_basic" in methods:
            auth_method = "client_secret_basic"
        else:
            auth_method = "client_secret_post"
        return AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret,
            scope=config.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=auth_method,
            timeout=10,
            transport=self.policy.oauth_transport(),
            follow_redirects=False,
            trust_env=False,
        )

    async def authorization_url(
        self,
        config: ProviderConfig,
        metadata: dict[str, Any],
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_verifier: str,
        prompt: str | None = None,
    ) -> str:
        extra: dict[str, str] = {"nonce": nonce}
        if prompt:
            extra["prompt"] = prompt
        async with self._client(config, metadata, redirect_uri) as client:
            url, _state = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    async def exchange_code(
        self, config: ProviderConfig, metadata: dict[str, Any], *, redirect_uri: str, code: str, code_verifier: str
    ) -> dict[str, Any]:
        async with self._client(config, metadata, redirect_uri) as client:
            try:
                token: dict[str, Any] = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
                )
            except OAuthError as error:
                raise SignInRefused(
                    "code_rejected", f"the provider refused the authorization code ({error.error})"
                ) from error
            except httpx.HTTPError as error:
                raise SignInRefused(
                    "provider_unreachable", "the identity provider cannot be reached (token)"
                ) from error
        if not token.get("access_token"):
            raise SignInRefused("code_rejected", "the provider sent no access token")
        return token

    async def verify_id_token(
        self, config: ProviderConfig, metadata: dict[str, Any], id_token: str, nonce: str
    ) -> dict[str, Any]:
        """Signature (JWKS), iss, aud (and azp), nonce, exp, iat: all must hold."""
        jwks_url = metadata["jwks_uri"]
        try:
            keys = KeySet.import_key_set(await self._get_json(jwks_url, "key set"))  # type: ignore[arg-type]
            try:
                decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            except JoseError:
                # the provider may have rotated its keys since they were cached
                keys = KeySet.import_key_set(await self._get_json(jwks_url, "key set", fresh=True))  # type: ignore[arg-type]
                decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        except (JoseError, ValueError) as error:
            raise SignInRefused("bad_id_token", UNVERIFIED, f"signature: {error}") from error
        claims: dict[str, Any] = dict(decoded.claims)
        issuer = metadata["issuer"]
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},  # OpenID Connect Core 2: required in every ID token
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            code = "wrong_issuer" if claims.get("iss") != issuer else "bad_id_token"
            raise SignInRefused(code, UNVERIFIED, f"claims: {error}") from error
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if config.client_id not in audiences:
            raise SignInRefused("wrong_audience", UNVERIFIED, f"aud {audience!r} is not {config.client_id!r}")
        if len(audiences) > 1 and claims.get("azp") != config.client_id:
            raise SignInRefused("wrong_audience", UNVERIFIED, "several audiences and azp is not our client id")
        if claims.get("nonce") != nonce:
            raise SignInRefused("wrong_nonce", UNVERIFIED, "the nonce is not this sign-in's")
        return claims

    async def userinfo(self, metadata: dict[str, Any], access_token: str) -> dict[str, Any]:
        url = metadata.get("userinfo_endpoint")
        if not isinstance(url, str):
            return {}
        require_secure_url(url, "userinfo endpoint")
        try:
            async with self._http() as http:
                response = await http.get(
                    url, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
                )
        except httpx.HTTPError as error:
            raise SignInRefused("provider_unreachable", "the identity provider cannot be reached (userinfo)") from error
        if response.status_code != 200:
            raise SignInRefused("provider_error", f"the provider's userinfo answered {response.status_code}")
        body: Any = response.json()
        return body if isinstance(body, dict) else {}

    async def revoke(self, config: ProviderConfig, metadata: dict[str, Any], token: str, hint: str) -> bool:
        url = metadata.get("revocation_endpoint")
        if not isinstance(url, str):
            return False
        require_secure_url(url, "revocation endpoint")
        async with self._client(config, metadata, "") as client:
            try:
                response = await client.revoke_token(url, token=token, token_type_hint=hint)
            except httpx.HTTPError:
                return False
        return bool(response.status_code == 200)

    async def refresh(self, config: ProviderConfig, metadata: dict[str, Any], refresh_token: str) -> dict[str, Any]:
        async with self._client(config, metadata, "") as client:
            try:
                token: dict[str, Any] = await client.refresh_token(
                    metadata["token_endpoint"], refresh_token=refresh_token
                )
            except OAuthError as error:
                raise SignInRefused(
                    "refresh_rejected", f"the provider refused the refresh token ({error.error})"
                ) from error
        return token


def identity_from(config: ProviderConfig, id_claims: dict[str, Any], userinfo: dict[str, Any]) -> Identity:
    """The identity in the provider's answer; userinfo counts only when its `sub` is the ID token's."""
    if userinfo and userinfo.get("sub") != id_claims.get("sub"):
        raise SignInRefused("bad_userinfo", "the provider's userinfo is about someone else (sub differs)")
    merged = {**id_claims, **userinfo}
    if config.kind is ProviderKind.SALESFORCE:
        org, user = merged.get("organization_id"), merged.get("user_id")
        if not isinstance(org, str) or not isinstance(user, str) or not org or not user:
            raise SignInRefused("bad_userinfo", "Salesforce sent no organization_id and user_id")
        issuer_key, subject = f"salesforce:{org}", user
    else:
        issuer_key, subject = str(id_claims["iss"]), str(id_claims["sub"])
    email = merged.get("email")
    return Identity(
        issuer_key=issuer_key,
        subject=subject,
        email=email.strip() if isinstance(email, str) else "",
        email_verified=_email_verified(merged.get("email_verified")),
        name=str(merged.get("name") or ""),
        claims=merged,
    )


def token_set(token: dict[str, Any], now: float) -> TokenSet:
    expires_at = token.get("expires_at")
    if expires_at is None and token.get("expires_in") is not None:
        expires_at = now + float(token["expires_in"])
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
        token_type=str(token.get("token_type", "Bearer")),
        scope=str(token.get("scope", "")),
        expires_at=float(expires_at) if expires_at is not None else None,
        instance_url=str(token.get("instance_url", "")),
        id_token=str(token.get("id_token", "")),
    )
