"""Single sign-on use cases: start a sign-in, finish it, link identities to agents, hand the session to a frame,
sign out, and give CRM connectors the agent's provider access token.

Linking rules (docs/sso.md): an identity is known by (issuer, subject) once linked; the e-mail is used only
for the first link, only when the provider says it is verified, and only to an agent not yet linked to
another identity of the same provider. Several agents with the e-mail: the oldest is linked and the admin
is warned. Roles never come from the provider.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from callbridge.auth.oidc import (
    DEFAULT_NAMES,
    DEFAULT_SCOPES,
    Identity,
    ProviderConfig,
    ProviderKind,
    RelyingParty,
    SignInRefused,
    identity_from,
    require_secure_url,
    token_set,
)
from callbridge.auth.secrets import DecryptionFailed, TokenCipher
from callbridge.logging import redact_query
from callbridge.outbound import OutboundPolicy
from callbridge.services.agent_sessions import sign_in_agent, sign_out_agent
from callbridge.services.audit import Actor
from callbridge.services.clock import Clock
from callbridge.services.node import ContactCenterNode
from callbridge.store import sso as stored
from callbridge.store.sso import REFUSAL_KIND, link_identity

__all__ = ["REFUSAL_KIND", "SsoService", "link_identity"]  # the store's, named here for callers

REFUSALS_KEPT = 50

LOGIN_SECONDS = 600  # time to finish a sign-in at the provider
HANDOFF_SECONDS = 60  # time for the console frame to redeem a finished sign-in
INTERACTION_NEEDED = {"login_required", "consent_required", "interaction_required", "account_selection_required"}


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def s256(verifier: str) -> str:
    """PKCE's S256 transform, used for the hand-off code too: base64url(SHA-256(verifier)), no padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """What an admin sets (the client secret is write-only: None keeps the stored one)."""

    kind: ProviderKind
    client_id: str
    client_secret: str | None = None
    display_name: str = ""
    issuer: str = ""
    discovery_url: str = ""
    login_host: str = ""
    sandbox_login_host: str = ""
    scope: str = ""


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished sign-in: in a pop-up, a hand-off code for the frame; else a session for this window."""

    tenant_id: str
    agent_id: str
    popup: bool
    next_path: str
    handoff_code: str | None = None
    session_token: str | None = None
    auto_login: bool = True


@dataclass(frozen=True, slots=True)
class RetryInteractively:
    """A silent attempt (prompt=none) that needs the person: start again, same window, with pages shown."""

    tenant_id: str
    sandbox: bool
    next_path: str
    popup: bool
    handoff_challenge: str


@dataclass(frozen=True, slots=True)
class ProviderAccess:
    """What a CRM connector needs to call the CRM as the agent."""

    access_token: str
    token_type: str
    instance_url: str
    expires_at: float | None
    scope: str


class SsoService:
    def __init__(
        self,
        engine: Engine,
        node: ContactCenterNode,
        clock: Clock,
        cipher: TokenCipher,
        relying_party: RelyingParty | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.node = node
        self.clock = clock
        self.cipher = cipher
        self.policy = policy or OutboundPolicy()
        self.rp = relying_party or RelyingParty(clock=clock.now, policy=self.policy)

    # ------------------------------------------------------------------ configuration

    def tenant_exists(self, tenant_id: str) -> bool:
        return stored.tenant_exists(self.engine, tenant_id)

    def provider(self, tenant_id: str) -> ProviderConfig | None:
        row = stored.provider(self.engine, tenant_id)
        if row is None:
            return None
        secret = self.cipher.decrypt(row.client_secret_encrypted) if row.client_secret_encrypted else None
        return ProviderConfig(
            tenant_id=tenant_id,
            kind=ProviderKind(row.kind),
            display_name=row.display_name,
            client_id=row.client_id,
            client_secret=secret,
            scope=row.scope,
            issuer=row.issuer,
            discovery_url=row.discovery_url,
            login_host=row.login_host,
            sandbox_login_host=row.sandbox_login_host,
        )

    def configure(self, tenant_id: str, wanted: ProviderSettings, actor: Actor | None = None) -> ProviderConfig:
        """Set the tenant's identity provider. Raises ValueError naming the field that is wrong.

        With an `actor`, the change is written to the audit log in the same transaction (the client secret
        only as changed)."""
        kind = wanted.kind
        issuer = wanted.issuer.strip().rstrip("/")
        if kind in (ProviderKind.BUILTIN_CRM, ProviderKind.OIDC):
            if not issuer and not (kind is ProviderKind.OIDC and wanted.discovery_url):
                raise ValueError("issuer: the provider's issuer URL is required")
            for field_name, url in (("issuer", issuer), ("discovery_url", wanted.discovery_url)):
                try:
                    if url:
                        require_secure_url(url, field_name)
                except ValueError as error:
                    raise ValueError(f"{field_name}: {error}") from error
                if url:  # fetched by the server, on an anonymous GET /sso/login: never an internal address
                    self.policy.check_url(url, field_name)
        for field_name, host in (("login_host", wanted.login_host), ("sandbox_login_host", wanted.sandbox_login_host)):
            if host and (not _is_host(host) or kind is not ProviderKind.SALESFORCE):
                raise ValueError(f"{field_name}: a host name such as mycompany.my.salesforce.com, for Salesforce only")
            if host:
                self.policy.check_url(f"https://{host.strip()}", field_name)
        if not wanted.client_id.strip():
            raise ValueError("client_id: the client id (consumer key) the provider gave Callbridge is required")
        now = self.clock.now()
        values: dict[str, Any] = {
            "kind": kind.value,
            "display_name": wanted.display_name.strip() or DEFAULT_NAMES[kind],
            "issuer": issuer,
            "discovery_url": wanted.discovery_url.strip() if kind is ProviderKind.OIDC else "",
            "login_host": wanted.login_host.strip().lower(),
            "sandbox_login_host": wanted.sandbox_login_host.strip().lower(),
            "client_id": wanted.client_id.strip(),
            "scope": _with_openid(wanted.scope or DEFAULT_SCOPES[kind]),
            "updated_at": now,
        }
        if wanted.client_secret is not None:
            values["client_secret_encrypted"] = (
                self.cipher.encrypt(wanted.client_secret) if wanted.client_secret else None
            )
        stored.save_provider(self.engine, tenant_id, values, actor)
        config = self.provider(tenant_id)
        assert config is not None
        return config

    def record_refusal(self, tenant_id: str, code: str, detail: str) -> None:
        """A refused sign-in, for the tenant's admin (the person who was refused saw only a plain reason). Blocking.
        Only the newest REFUSALS_KEPT are kept, so a flood of forged callbacks cannot fill the database."""
        if not tenant_id:
            return
        message = f"A sign-in was refused ({code}): {redact_query(detail)[:500]}"
        stored.add_refusal(self.engine, tenant_id, message, self.clock.now(), keep=REFUSALS_KEPT)

    def warnings(self, tenant_id: str) -> list[dict[str, Any]]:
        return stored.warnings(self.engine, tenant_id)

    # ------------------------------------------------------------------ sign-in

    async def begin(
        self,
        tenant_id: str,
        *,
        browser_secret: str,
        redirect_uri: str,
        sandbox: bool = False,
        next_path: str = "",
        popup: bool = False,
        handoff_challenge: str = "",
        silent: bool = False,
    ) -> str:
        """Records a pending sign-in bound to this browser and returns the provider's authorization URL."""
        config = await self._require_provider(tenant_id)
        metadata = await self.rp.metadata(config, sandbox)
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        now = self.clock.now()
        pending = {
            "state_hash": digest(state),
            "browser_hash": digest(browser_secret),
            "tenant_id": tenant_id,
            "sandbox": sandbox,
            "nonce": nonce,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            "next_path": next_path,
            "popup": popup,
            "handoff_challenge": handoff_challenge,
            "silent": silent,
            "created_at": now,
            "expires_at": now + LOGIN_SECONDS,
        }
        await asyncio.to_thread(self._record_pending, pending, now)
        return await self.rp.authorization_url(
            config,
            metadata,
            redirect_uri=redirect_uri,
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            prompt="none" if silent else None,
        )

    async def complete(
        self, *, browser_secret: str, state: str, code: str, error: str = ""
    ) -> Completed | RetryInteractively:
        """Finishes a sign-in at the redirect URI. Raises SignInRefused saying why it cannot (with its tenant)."""
        pending = await asyncio.to_thread(self._take_pending, browser_secret, state)
        try:
            return await self._complete(pending, code, error)
        except SignInRefused as refusal:
            refusal.tenant_id = pending.tenant_id
            raise

    async def _complete(self, pending: Any, code: str, error: str) -> Completed | RetryInteractively:
        if error:
            if pending.silent and error in INTERACTION_NEEDED:
                return RetryInteractively(
                    pending.tenant_id, pending.sandbox, pending.next_path, pending.popup, pending.handoff_challenge
                )
            if error == "access_denied":
                raise SignInRefused("access_denied", "you did not allow Callbridge to use your CRM account")
            raise SignInRefused(
                "provider_error", "your CRM could not sign you in", f"the provider answered error={error[:100]!r}"
            )
        if not code:
            raise SignInRefused("bad_request", "the provider sent no authorization code")
        config = await self._require_provider(pending.tenant_id)
        metadata = await self.rp.metadata(config, pending.sandbox)
        token = await self.rp.exchange_code(
            config, metadata, redirect_uri=pending.redirect_uri, code=code, code_verifier=pending.code_verifier
        )
        if not token.get("id_token"):
            raise SignInRefused("bad_id_token", "the provider sent no ID token: is 'openid' in the scope?")
        claims = await self.rp.verify_id_token(config, metadata, str(token["id_token"]), pending.nonce)
        userinfo = await self.rp.userinfo(metadata, str(token["access_token"]))
        identity = identity_from(config, claims, userinfo)
        now = self.clock.now()
        tokens = token_set(token, now)
        agent_id, auto_login, handoff = await asyncio.to_thread(self._link, pending, identity, tokens, now)
        if pending.popup:
            return Completed(
                pending.tenant_id, agent_id, True, pending.next_path, handoff_code=handoff, auto_login=auto_login
            )
        session = await sign_in_agent(self.engine, self.node, self.clock, pending.tenant_id, agent_id)
        return Completed(
            pending.tenant_id, agent_id, False, pending.next_path, session_token=session, auto_login=auto_login
        )

    async def redeem_handoff(self, tenant_id: str, code: str, verifier: str) -> Completed:
        """The console frame proves it started this sign-in (verifier) and gets the session."""
        now = self.clock.now()
        row = await asyncio.to_thread(self._take_handoff, code)
        if row is None or row.expires_at <= now or row.tenant_id != tenant_id:
            raise SignInRefused("bad_handoff", "this sign-in was already used or has expired: sign in again")
        if not row.challenge or not verifier or not hmac.compare_digest(row.challenge, s256(verifier)):
            raise SignInRefused("bad_handoff", "this sign-in was started by another window: sign in again")
        agent = await asyncio.to_thread(self._agent_flags, row.tenant_id, row.agent_id)
        if agent is None or not agent.enabled:
            raise SignInRefused("agent_disabled", "your agent account is disabled")
        session = await sign_in_agent(self.engine, self.node, self.clock, row.tenant_id, row.agent_id)
        return Completed(
            row.tenant_id, row.agent_id, True, "", session_token=session, auto_login=bool(agent.auto_login)
        )

    # ------------------------------------------------------------------ sign-out and connectors

    async def sign_out(self, tenant_id: str, agent_id: str, session_token: str) -> None:
        """Ends the Callbridge session and revokes the provider tokens Callbridge holds for the agent."""
        await sign_out_agent(self.engine, self.node, tenant_id, agent_id, session_token)
        row = await asyncio.to_thread(self._forget_tokens, tenant_id, agent_id)
        config = await asyncio.to_thread(self.provider, tenant_id)
        if row is None or config is None:
            return
        try:
            metadata = await self.rp.metadata(config, bool(row.sandbox))
            if row.refresh_token_encrypted:
                await self.rp.revoke(
                    config, metadata, self.cipher.decrypt(row.refresh_token_encrypted), "refresh_token"
                )
            await self.rp.revoke(config, metadata, self.cipher.decrypt(row.access_token_encrypted), "access_token")
        except (SignInRefused, DecryptionFailed):
            pass  # the tokens are forgotten either way; the provider expires them

    async def refresh_access_token(self, tenant_id: str, agent_id: str) -> ProviderAccess | None:
        """A new provider access token for the agent, after the CRM refused the current one (Salesforce gives
        no expiry, so INVALID_SESSION_ID is the only sign). None when the agent has no tokens or no refresh
        token. Raises SignInRefused when the provider refuses the refresh token."""
        return await self.access_token(tenant_id, agent_id, force=True)

    async def access_token(
        self, tenant_id: str, agent_id: str, min_valid_seconds: float = 60, *, force: bool = False
    ) -> ProviderAccess | None:
        """The agent's provider access token for a CRM connector (refreshed when about to expire, or always
        with `force`), or None when the agent is not signed in through the provider (with `force`: or when
        there is no refresh token to refresh with)."""

        row = await asyncio.to_thread(stored.tokens_of, self.engine, tenant_id, agent_id)
        if row is None:
            return None
        now = self.clock.now()
        access = self.cipher.decrypt(row.access_token_encrypted)
        if force and not row.refresh_token_encrypted:
            return None
        expiring = row.expires_at is not None and row.expires_at - min_valid_seconds <= now
        if (force or expiring) and row.refresh_token_encrypted:
            config = await self._require_provider(tenant_id)
            metadata = await self.rp.metadata(config, bool(row.sandbox))
            refreshed = await self.rp.refresh(config, metadata, self.cipher.decrypt(row.refresh_token_encrypted))
            tokens = token_set(refreshed, now)
            if tokens.refresh_token is None:
                tokens = _keep_refresh(tokens, self.cipher.decrypt(row.refresh_token_encrypted))
            await asyncio.to_thread(self._keep_tokens, tenant_id, agent_id, row.issuer, bool(row.sandbox), tokens)
            return ProviderAccess(
                tokens.access_token,
                tokens.token_type,
                tokens.instance_url or row.instance_url,
                tokens.expires_at,
                tokens.scope or row.scope,
            )
        return ProviderAccess(access, row.token_type, row.instance_url, row.expires_at, row.scope)

    # ------------------------------------------------------------------ helpers

    async def _require_provider(self, tenant_id: str) -> ProviderConfig:
        config = await asyncio.to_thread(self.provider, tenant_id)
        if config is None:
            raise SignInRefused(
                "no_provider", "single sign-on is not set up for this tenant: ask your admin to connect the CRM"
            )
        return config

    def _forget_tokens(self, tenant_id: str, agent_id: str) -> Any:
        """Deletes the provider tokens held for the agent and returns them (to revoke at the provider)."""
        return stored.forget_tokens(self.engine, tenant_id, agent_id)

    def _take_handoff(self, code: str) -> Any:
        return stored.take_handoff(self.engine, digest(code))

    def _agent_flags(self, tenant_id: str, agent_id: str) -> Any:
        return stored.agent_flags(self.engine, tenant_id, agent_id)

    def _link(self, pending: Any, identity: Identity, tokens: Any, now: float) -> tuple[str, bool, str]:
        """Links the identity to its agent and keeps the provider's tokens; for a popup, a one-time hand-off."""
        handoff = secrets.token_urlsafe(32) if pending.popup else ""
        agent_id, auto_login = stored.link(
            self.engine,
            pending.tenant_id,
            identity,
            now,
            self._token_values(identity.issuer_key, pending.sandbox, tokens),
            stored.Handoff(digest(handoff), pending.handoff_challenge, now + HANDOFF_SECONDS) if handoff else None,
        )
        return agent_id, auto_login, handoff

    def _record_pending(self, pending: dict[str, Any], now: float) -> None:
        stored.add_pending(self.engine, pending, now)

    def _take_pending(self, browser_secret: str, state: str) -> Any:
        if not state:
            raise SignInRefused("state_mismatch", "this sign-in has no state: start again from your CRM")
        now = self.clock.now()
        row, taken = stored.take_pending(self.engine, digest(state), digest(browser_secret) if browser_secret else None)
        if row is None:
            raise SignInRefused("state_mismatch", "this sign-in is unknown or was already finished: start again")
        if not taken:
            # Not this browser's sign-in (login CSRF): leave it for the browser that started it.
            raise SignInRefused("state_mismatch", "this sign-in was started in another browser: start again")
        if row.expires_at <= now:
            raise SignInRefused("expired", "this sign-in took too long: start again")
        return row

    def _keep_tokens(self, tenant_id: str, agent_id: str, issuer_key: str, sandbox: bool, tokens: Any) -> None:
        stored.keep_tokens(self.engine, tenant_id, agent_id, self._token_values(issuer_key, sandbox, tokens))

    def _store_tokens(
        self, connection: Connection, tenant_id: str, agent_id: str, issuer_key: str, sandbox: bool, tokens: Any
    ) -> None:
        """In the caller's transaction."""
        stored.write_tokens(connection, tenant_id, agent_id, self._token_values(issuer_key, sandbox, tokens))

    def _token_values(self, issuer_key: str, sandbox: bool, tokens: Any) -> dict[str, Any]:
        """The provider tokens' row, encrypted."""
        return {
            "issuer": issuer_key,
            "sandbox": sandbox,
            "access_token_encrypted": self.cipher.encrypt(tokens.access_token),
            "refresh_token_encrypted": self.cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
            "token_type": tokens.token_type,
            "scope": tokens.scope,
            "expires_at": tokens.expires_at,
            "instance_url": tokens.instance_url,
            "updated_at": self.clock.now(),
        }


def _with_openid(scope: str) -> str:
    items = scope.split()
    return " ".join(items if "openid" in items else ["openid", *items])


def _is_host(value: str) -> bool:
    value = value.strip().lower()
    return bool(value) and all(part and part.replace("-", "").isalnum() for part in value.split("."))


def _keep_refresh(tokens: Any, refresh_token: str) -> Any:
    from dataclasses import replace

    return replace(tokens, refresh_token=refresh_token)
