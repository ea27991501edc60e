"""The OpenID Connect provider, built on Authlib's authorization-server components.

Authlib does the protocol (code flow, PKCE, ID tokens, revocation, userinfo); this module only
connects it to the CRM's tables and adds what Authlib leaves to the application: exact redirect
URIs, a consent screen remembered per (user, client), `prompt=none`, and hashed token storage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.grants import OpenIDCode
from flask import Blueprint, Flask, Response, jsonify, redirect, render_template, request, session
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import Session

from .app import db, state
from .models import (
    PUBLIC_CLIENT_AUTH_METHOD,
    AuthorizationCode,
    Consent,
    OAuthClient,
    OAuthToken,
    SigningKey,
    SpentCode,
    TokenOrigin,
    User,
    utcnow,
)
from .pages import current_user, forbid_framing, login_url, verify_csrf

SUPPORTED_SCOPES = ("openid", "email", "profile", "crm.read", "crm.write", "offline_access")
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
ALL_AUTH_METHODS = [*CONFIDENTIAL_AUTH_METHODS, PUBLIC_CLIENT_AUTH_METHOD]
SCOPE_DESCRIPTIONS = {
    "openid": "Sign you in with your CRM account",
    "email": "See your e-mail address",
    "profile": "See your name",
    "crm.read": "Search and read contacts, accounts, leads, cases and activities",
    "crm.write": "Log calls, chats and voicemails as activities",
    "offline_access": "Keep this access while you are not signed in",
}


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- Authlib model adapters ----------------------------------------------------------------------


class ClientAdapter:
    """Authlib's ClientMixin over an OAuthClient row."""

    def __init__(self, model: OAuthClient) -> None:
        self.model = model
        self.client_id = model.client_id
        self.client_metadata = model.client_metadata

    def get_client_id(self) -> str:
        return self.model.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Never guess: every authorization request must name one registered redirect URI exactly.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.model.scope.split())
        return " ".join(item for item in scope.split() if item in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.model.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.model.client_secret_hash
        return stored is not None and hmac.compare_digest(stored, hash_token(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.model.is_public:
            return method == PUBLIC_CLIENT_AUTH_METHOD
        return method in CONFIDENTIAL_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class TokenAdapter:
    """Authlib's TokenMixin over an OAuthToken row; `kind` says which of its two strings was presented."""

    model: OAuthToken
    kind: str = "access_token"

    def check_client(self, client: ClientAdapter) -> bool:
        return self.model.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.model.scope

    @property
    def scope(self) -> str:
        return self.model.scope

    def get_expires_in(self) -> int:
        return self.model.expires_in

    def is_expired(self) -> bool:
        return self.model.issued_at + self.model.expires_in < time.time()

    def is_revoked(self) -> bool:
        if self.kind == "refresh_token":
            return self.model.refresh_token_revoked
        return self.model.access_token_revoked

    def get_user(self) -> User:
        return self.model.user

    def get_client(self) -> ClientAdapter | None:
        return query_client(self.model.client_id)


class CodeAdapter:
    """Authlib's AuthorizationCodeMixin (plus OIDC's) over an AuthorizationCode row."""

    def __init__(self, model: AuthorizationCode) -> None:
        self.model = model
        self.code_challenge = model.code_challenge
        self.code_challenge_method = model.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.model.redirect_uri

    def get_scope(self) -> str:
        return self.model.scope

    def get_nonce(self) -> str | None:
        return self.model.nonce

    def get_auth_time(self) -> int:
        return self.model.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


def query_client(client_id: str) -> ClientAdapter | None:
    model = db().scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    return ClientAdapter(model) if model else None


def save_token(token: dict[str, Any], oauth_request: Any) -> None:
    refresh_token = token.get("refresh_token")
    session_db = db()
    session_db.add(
        OAuthToken(
            client_id=oauth_request.client.get_client_id(),
            user_id=oauth_request.user.id,
            access_token_hash=hash_token(token["access_token"]),
            refresh_token_hash=hash_token(refresh_token) if refresh_token else None,
            scope=token.get("scope", ""),
            issued_at=int(time.time()),
            expires_in=int(token.get("expires_in", state().settings.access_token_lifetime_seconds)),
        )
    )
    session_db.commit()


# Built once: every API request looks its bearer token up.
_TOKEN_BY_ACCESS_HASH = select(OAuthToken).where(OAuthToken.access_token_hash == bindparam("digest"))


def token_by_access_token(session_db: Session, access_token: str) -> OAuthToken | None:
    token: OAuthToken | None = session_db.scalar(_TOKEN_BY_ACCESS_HASH, {"digest": hash_token(access_token)})
    return token


@dataclass(frozen=True)
class AccessGrant:
    """What an API request needs to know about its access token and user, read without ORM objects."""

    user_id: int
    scope: str
    issued_at: int
    expires_in: int
    revoked: bool
    user_active: bool
    user_api_enabled: bool
    user_admin: bool = False

    def is_expired(self) -> bool:
        # The same rule as TokenAdapter.is_expired.
        return self.issued_at + self.expires_in < time.time()


_token_table = OAuthToken.__table__
_user_table = User.__table__
# Built once, plain SQL: the token and its user in one indexed lookup (every API request does this).
_GRANT_BY_ACCESS_HASH = (
    select(
        _token_table.c.user_id,
        _token_table.c.scope,
        _token_table.c.issued_at,
        _token_table.c.expires_in,
        _token_table.c.access_token_revoked,
        _user_table.c.active,
        _user_table.c.api_enabled,
        _user_table.c.roles,
    )
    .select_from(_token_table.join(_user_table, _user_table.c.id == _token_table.c.user_id))
    .where(_token_table.c.access_token_hash == bindparam("digest"))
)


def access_grant(connection: Connection, access_token: str) -> AccessGrant | None:
    """The grant behind an access token string, or None when no token has that hash.

    Read from the database on every call, so a revocation or a deactivated user takes effect at once.
    """
    row = connection.execute(_GRANT_BY_ACCESS_HASH, {"digest": hash_token(access_token)}).first()
    if row is None:
        return None
    user_id, scope, issued_at, expires_in, revoked, active, api_enabled, roles = row
    return AccessGrant(
        int(user_id),
        scope or "",
        int(issued_at),
        int(expires_in),
        bool(revoked),
        bool(active),
        bool(api_enabled),
        "admin" in (roles or "").split(),
    )


# --- keys and claims ----------------------------------------------------------------------------


def signing_key() -> tuple[str, RSAKey]:
    row = db().scalar(select(SigningKey).order_by(SigningKey.id.desc()).limit(1))
    if row is None:
        raise RuntimeError("no signing key; the database was not initialised")
    return row.kid, RSAKey.import_key(json.loads(row.private_jwk_json))


def public_jwks() -> dict[str, Any]:
    keys = []
    for row in db().scalars(select(SigningKey).order_by(SigningKey.id)):
        key = RSAKey.import_key(json.loads(row.private_jwk_json))
        keys.append({**key.as_dict(private=False), "kid": row.kid, "use": "sig", "alg": "RS256"})
    return {"keys": keys}


def user_claims(user: User, scope: str) -> UserInfo:
    """Claims for the ID token and userinfo: standard OIDC claims plus Salesforce-like ids."""
    from .db import organization

    scopes = set(scope.split())
    claims: dict[str, Any] = {"sub": str(user.id)}
    if "profile" in scopes:
        first, _, last = user.name.partition(" ")
        claims.update(
            name=user.name,
            given_name=first,
            family_name=last or None,
            preferred_username=user.email,
            user_id=str(user.id),
            organization_id=str(organization(db()).id),
        )
    if "email" in scopes:
        claims.update(email=user.email, email_verified=user.email_verified)
    return UserInfo({key: value for key, value in claims.items() if value is not None})


class CrmOpenIDCode(OpenIDCode):  # type: ignore[misc]
    def resolve_client_private_key(self, client: ClientAdapter) -> KeySet:
        _kid, key = signing_key()
        return KeySet([key])

    def get_client_claims(self, client: ClientAdapter) -> dict[str, Any]:
        return {"iss": state().settings.issuer, "aud": [client.get_client_id()]}

    def get_encode_header(self, client: ClientAdapter) -> dict[str, str]:
        kid, _key = signing_key()
        return {"alg": "RS256", "kid": kid}

    def get_client_algorithm(self, client: ClientAdapter) -> str:
        return "RS256"

    def exists_nonce(self, nonce: str, oauth_request: Any) -> bool:
        client_id = oauth_request.payload.client_id
        found = db().scalar(
            select(AuthorizationCode.id).where(
                AuthorizationCode.nonce == nonce, AuthorizationCode.client_id == client_id
            )
        )
        return found is not None

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return user_claims(user, scope)


def remember_origin(token: dict[str, Any], code_hash: str) -> None:
    session_db = db()
    issued = token_by_access_token(session_db, token["access_token"])
    if issued is not None:
        session_db.add(TokenOrigin(token_id=issued.id, code_hash=code_hash))
        session_db.commit()


def revoke_tokens_of_replayed_code(code: str, client_id: str) -> None:
    """A code presented again after it was exchanged: someone else may hold it, so every token issued from
    it (and from their refresh tokens) stops working (RFC 6749 section 4.1.2)."""
    session_db = db()
    digest = hash_token(code)
    spent = session_db.get(SpentCode, digest)
    if spent is None or spent.client_id != client_id:
        return
    token_ids = select(TokenOrigin.token_id).where(TokenOrigin.code_hash == digest)
    for issued in session_db.scalars(select(OAuthToken).where(OAuthToken.id.in_(token_ids))):
        issued.access_token_revoked = True
        issued.refresh_token_revoked = True
    session_db.commit()


class CrmCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def save_authorization_code(self, code: str, oauth_request: Any) -> None:
        data = oauth_request.payload.data
        session_db = db()
        session_db.add(
            AuthorizationCode(
                code=code,
                client_id=oauth_request.client.get_client_id(),
                user_id=oauth_request.user.id,
                redirect_uri=oauth_request.payload.redirect_uri,
                scope=oauth_request.scope,
                nonce=data.get("nonce"),
                auth_time=int(session.get("auth_time", time.time())),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                expires_at=utcnow() + dt.timedelta(seconds=state().settings.authorization_code_lifetime_seconds),
            )
        )
        session_db.commit()

    def query_authorization_code(self, code: str, client: ClientAdapter) -> CodeAdapter | None:
        model = db().scalar(
            select(AuthorizationCode).where(
                AuthorizationCode.code == code, AuthorizationCode.client_id == client.get_client_id()
            )
        )
        if model is None:
            revoke_tokens_of_replayed_code(code, client.get_client_id())
            return None
        if model.expires_at < utcnow():
            return None
        return CodeAdapter(model)

    def save_token(self, token: dict[str, Any]) -> None:
        super().save_token(token)
        remember_origin(token, hash_token(self.request.authorization_code.model.code))

    def delete_authorization_code(self, authorization_code: CodeAdapter) -> None:
        # One use only: the code is gone before the token response leaves; its hash stays, so a replay is
        # recognised and revokes what the code gave.
        session_db = db()
        model = authorization_code.model
        now = utcnow()
        session_db.execute(delete(SpentCode).where(SpentCode.forget_after < now))
        session_db.add(
            SpentCode(
                code_hash=hash_token(model.code),
                client_id=model.client_id,
                forget_after=model.expires_at + dt.timedelta(days=1),
            )
        )
        session_db.execute(delete(AuthorizationCode).where(AuthorizationCode.id == model.id))
        session_db.commit()

    def authenticate_user(self, authorization_code: CodeAdapter) -> User | None:
        user = db().get(User, authorization_code.model.user_id)
        return user if user is not None and user.active else None


class CrmRefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenAdapter | None:
        model = db().scalar(select(OAuthToken).where(OAuthToken.refresh_token_hash == hash_token(refresh_token)))
        if model is None or model.refresh_token_revoked:
            return None
        return TokenAdapter(model, "refresh_token")

    def authenticate_user(self, refresh_token: TokenAdapter) -> User | None:
        user = refresh_token.get_user()
        return user if user.active else None

    def save_token(self, token: dict[str, Any]) -> None:
        super().save_token(token)
        origin = db().get(TokenOrigin, self.request.refresh_token.model.id)
        if origin is not None:  # the new token descends from the same authorization code
            remember_origin(token, origin.code_hash)

    def revoke_old_credential(self, refresh_token: TokenAdapter) -> None:
        refresh_token.model.refresh_token_revoked = True
        refresh_token.model.access_token_revoked = True
        db().commit()


class CrmRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenAdapter | None:
        digest = hash_token(token_string)
        session_db = db()
        model = session_db.scalar(select(OAuthToken).where(OAuthToken.access_token_hash == digest))
        if model is not None:
            return TokenAdapter(model, "access_token")
        model = session_db.scalar(select(OAuthToken).where(OAuthToken.refresh_token_hash == digest))
        return TokenAdapter(model, "refresh_token") if model is not None else None

    def revoke_token(self, token: TokenAdapter, oauth_request: Any) -> None:
        # Revoking a refresh token also ends the access token issued with it (as Salesforce does).
        token.model.access_token_revoked = True
        if token.kind == "refresh_token":
            token.model.refresh_token_revoked = True
        db().commit()


class CrmBearerTokenValidator(BearerTokenValidator):  # type: ignore[misc]
    def authenticate_token(self, token_string: str) -> TokenAdapter | None:
        model = token_by_access_token(db(), token_string)
        return TokenAdapter(model) if model is not None else None


class CrmUserInfoEndpoint(UserInfoEndpoint):  # type: ignore[misc]
    def get_issuer(self) -> str:
        return state().settings.issuer

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return user_claims(user, scope)

    def resolve_private_key(self) -> KeySet:
        _kid, key = signing_key()
        return KeySet([key])


resource_protector = ResourceProtector()
resource_protector.register_token_validator(CrmBearerTokenValidator())
blueprint = Blueprint("oidc", __name__)


def init_app(app: Flask) -> None:
    server = AuthorizationServer()
    server.init_app(app, query_client=query_client, save_token=save_token)
    server.register_grant(CrmCodeGrant, [CodeChallenge(required=True), CrmOpenIDCode(require_nonce=False)])
    server.register_grant(CrmRefreshTokenGrant)
    server.register_endpoint(CrmRevocationEndpoint)
    server.register_endpoint(CrmUserInfoEndpoint(resource_protector=resource_protector))
    app.extensions["callbridge_crm_oauth"] = server
    app.register_blueprint(blueprint)


def _server() -> AuthorizationServer:
    from flask import current_app

    return current_app.extensions["callbridge_crm_oauth"]


# --- endpoints ----------------------------------------------------------------------------------


@blueprint.get("/.well-known/openid-configuration")
def discovery() -> Response:
    issuer = state().settings.issuer
    return jsonify(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth2/authorize",
            "token_endpoint": f"{issuer}/oauth2/token",
            "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
            "revocation_endpoint": f"{issuer}/oauth2/revoke",
            "jwks_uri": f"{issuer}/oauth2/jwks",
            "scopes_supported": list(SUPPORTED_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "name",
                "given_name",
                "family_name",
                "preferred_username",
                "email",
                "email_verified",
                "user_id",
                "organization_id",
            ],
            "prompt_values_supported": ["none", "login", "consent"],
        }
    )


@blueprint.get("/oauth2/jwks")
def jwks() -> Response:
    return jsonify(public_jwks())


def _consent_given(user: User, client_id: str, scope: str) -> bool:
    consent = db().scalar(select(Consent).where(Consent.user_id == user.id, Consent.client_id == client_id))
    return consent is not None and set(scope.split()) <= set(consent.scope.split())


def _remember_consent(user: User, client_id: str, scope: str) -> None:
    session_db = db()
    consent = session_db.scalar(select(Consent).where(Consent.user_id == user.id, Consent.client_id == client_id))
    if consent is None:
        session_db.add(Consent(user_id=user.id, client_id=client_id, scope=scope))
    else:
        consent.scope = " ".join(sorted(set(consent.scope.split()) | set(scope.split())))
        consent.granted_at = utcnow()
    session_db.commit()


@blueprint.route("/oauth2/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    server = _server()
    user = current_user()
    prompts = set(request.values.get("prompt", "").split())
    # prompt=login asks for a fresh sign-in even when one exists: honour it once per authorization request,
    # not again when the person who just signed in answers the consent form (which carries the same query).
    deciding = request.method == "POST" and "decision" in request.form
    if user is not None and "login" in prompts and not deciding and not session.pop("fresh_login", False):
        session.pop("user_id", None)
        user = None
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _authorization_error(server, error)
    if user is None:
        return redirect(login_url(request.full_path))
    client: ClientAdapter = grant.client
    scope: str = grant.request.scope
    remembered = _consent_given(user, client.client_id, scope)
    if "none" in prompts and not remembered:
        redirect_uri = grant.request.payload.redirect_uri
        return server.handle_error_response(
            None, ConsentRequiredError(redirect_uri=redirect_uri, state=grant.request.payload.state)
        )
    if request.method == "GET":
        if remembered and "consent" not in prompts:
            return server.create_authorization_response(grant=grant, grant_user=user)
        return forbid_framing(
            Response(
                render_template(
                    "consent.html",
                    user=user,
                    client=client.model,
                    scopes=[(item, SCOPE_DESCRIPTIONS.get(item, item)) for item in scope.split()],
                    action=request.full_path,
                )
            )
        )
    verify_csrf()
    if request.form.get("decision") == "allow":
        _remember_consent(user, client.client_id, scope)
        return server.create_authorization_response(grant=grant, grant_user=user)
    return server.create_authorization_response(grant=grant, grant_user=None)


def _authorization_error(server: AuthorizationServer, error: OAuth2Error) -> Any:
    if getattr(error, "redirect_uri", None):
        # The client and redirect URI were verified: the client gets the error (e.g. login_required).
        return server.handle_error_response(None, error)
    # An unknown client or a redirect URI that is not registered: never redirect, tell the person.
    response = Response(
        render_template("oauth_error.html", error=error.error, description=error.description), status=400
    )
    return forbid_framing(response)


@blueprint.post("/oauth2/token")
def issue_token() -> Any:
    return _server().create_token_response()


@blueprint.post("/oauth2/revoke")
def revoke_token() -> Any:
    return _server().create_endpoint_response(CrmRevocationEndpoint.ENDPOINT_NAME)


@blueprint.route("/oauth2/userinfo", methods=["GET", "POST"])
def userinfo() -> Any:
    return _server().create_endpoint_response("userinfo")


# --- client registration ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str | None


def register_client(
    session_db: Session,
    name: str,
    redirect_uris: list[str],
    *,
    public: bool = False,
    scope: str = " ".join(SUPPORTED_SCOPES),
) -> ClientCredentials:
    """Register a relying party; the secret is returned once and only its hash is kept."""
    if not redirect_uris:
        raise ValueError("at least one redirect URI is required")
    for uri in redirect_uris:
        if not uri.startswith(("https://", "http://")) or "#" in uri:
            raise ValueError(f"not an absolute http(s) redirect URI without fragment: {uri!r}")
    unknown = set(scope.split()) - set(SUPPORTED_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    client_id = "cb_" + secrets.token_urlsafe(18)
    client_secret = None if public else secrets.token_urlsafe(32)
    session_db.add(
        OAuthClient(
            client_id=client_id,
            client_secret_hash=hash_token(client_secret) if client_secret else None,
            name=name,
            redirect_uris_json=json.dumps(redirect_uris),
            scope=scope,
            token_endpoint_auth_method=PUBLIC_CLIENT_AUTH_METHOD if public else "client_secret_basic",
        )
    )
    session_db.commit()
    return ClientCredentials(client_id, client_secret)
