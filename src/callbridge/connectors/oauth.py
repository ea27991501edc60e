"""An admin's "Connect" to a CRM, the same for every OAuth 2.0 CRM: the authorization-code grant with PKCE
(RFC 6749 section 4.1, RFC 7636 S256) as the integration user, OpenID Connect userinfo to say who that user
is, and RFC 7009 revocation. Authlib makes the verifier, the challenge and the authorization URL; the token,
userinfo and revocation requests go through Callbridge's shared `httpx.AsyncClient` (tests put a stand-in
behind it). The endpoints and scopes come from the connector plugin (`ConnectorPlugin.oauth`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import httpx

from callbridge.connectors.base import CrmAuthError, CrmUnavailable
from callbridge.connectors.plugin import OAuthEndpoints

with warnings.catch_warnings():
    # Authlib prefers the `httpx2` package when it is installed and falls back to httpx with a notice.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the admin's browser, and what the callback must bring back (`state`) and prove
    (`code_verifier`, kept on the server)."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class Grant:
    access_token: str
    refresh_token: str


def authorization_request(endpoints: OAuthEndpoints, client_id: str, redirect_uri: str) -> AuthorizationRequest:
    """The authorization URL with PKCE (S256) and a fresh sign-in (`prompt=login`), so the admin signs in as
    the integration user even when the browser holds someone else's CRM session."""
    state = generate_token(32)
    verifier = generate_token(64)
    url = prepare_grant_uri(
        endpoints.authorize_url,
        client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=endpoints.scope,
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
        prompt="login",
    )
    return AuthorizationRequest(str(url), state, verifier)


def _client_auth(
    endpoints: OAuthEndpoints, client: ClientCredentials, form: dict[str, str]
) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    if endpoints.client_auth == "client_secret_basic":
        return form, httpx.BasicAuth(client.client_id, client.client_secret)
    return {**form, "client_id": client.client_id, "client_secret": client.client_secret}, None


async def _post(http: httpx.AsyncClient, url: str, what: str, form: dict[str, str], auth: Any) -> httpx.Response:
    try:
        return await http.post(
            url, data=form, auth=auth, headers={"Accept": "application/json"}, timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as error:
        raise CrmUnavailable(f"The CRM's {what} ({url}) cannot be reached: {error.__class__.__name__}.") from error


def _refusal(response: httpx.Response, what: str) -> CrmAuthError | CrmUnavailable:
    if response.status_code >= 500:
        return CrmUnavailable(f"The CRM's {what} answered {response.status_code}; try again in a moment.")
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    detail = f"{error}: {description}" if description else error or f"HTTP {response.status_code}"
    return CrmAuthError(f"The CRM refused the {what} ({detail}).", code=error or "refused")


async def exchange_code(
    http: httpx.AsyncClient,
    endpoints: OAuthEndpoints,
    client: ClientCredentials,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
) -> Grant:
    """Trades the authorization code (and the PKCE verifier) for tokens; a refresh token is required."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    form, auth = _client_auth(endpoints, client, form)
    response = await _post(http, endpoints.token_url, "token endpoint", form, auth)
    if response.status_code != 200:
        raise _refusal(response, "authorization code")
    body = response.json()
    access_token, refresh_token = body.get("access_token"), body.get("refresh_token")
    if not isinstance(access_token, str) or not access_token:
        raise CrmAuthError("The CRM's token endpoint sent no access token.", code="invalid_response")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise CrmAuthError(
            f"The CRM sent no refresh token: the OAuth client must be allowed the scopes {endpoints.scope!r} "
            "(offline access), then press Connect again.",
            code="no_refresh_token",
        )
    return Grant(access_token, refresh_token)


async def who(http: httpx.AsyncClient, endpoints: OAuthEndpoints, access_token: str) -> str:
    """The integration user in words ("Abe Agent <abe@example.com>"), from OpenID Connect userinfo; empty
    when the CRM has no userinfo endpoint or does not answer it."""
    if not endpoints.userinfo_url:
        return ""
    try:
        response = await http.get(
            endpoints.userinfo_url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )
        claims = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return ""
    if not isinstance(claims, dict):
        return ""
    name = str(claims.get("name") or "").strip()
    email = str(claims.get("email") or claims.get("preferred_username") or "").strip()
    if name and email:
        return f"{name} <{email}>"[:300]
    return (name or email or str(claims.get("sub") or ""))[:300]


async def revoke(http: httpx.AsyncClient, endpoints: OAuthEndpoints, client: ClientCredentials, token: str) -> None:
    """Revokes a refresh token at the CRM (RFC 7009); raises when the CRM cannot be asked or refuses."""
    if not endpoints.revoke_url:
        raise CrmUnavailable("This CRM offers no way to revoke a token from Callbridge.")
    form, auth = _client_auth(endpoints, client, {"token": token, "token_type_hint": "refresh_token"})
    response = await _post(http, endpoints.revoke_url, "revocation endpoint", form, auth)
    if response.status_code != 200:
        raise _refusal(response, "revocation")
