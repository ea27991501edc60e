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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

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
from callbridge.services.audit import Actor, record
from callbridge.services.clock import Clock
from callbridge.services.node import ContactCenterNode
from callbridge.store.sso_tables import (
    identity_providers,
    linked_identities,
    provider_tokens,
    sso_handoffs,
    sso_pending_logins,
    sso_warnings,
)
from callbridge.store.tables import agents, tenants

REFUSAL_KIND = "sign_in_refused"  # an SSO warning: who was refused and why, for the admin
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
        with self.engine.connect() as connection:
            return connection.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is not None

    def provider(self, tenant_id: str) -> ProviderConfig | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(identity_providers).where(identity_providers.c.tenant_id == tenant_id)
            ).first()
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
        with self.engine.begin() as connection:
            found = connection.execute(
                select(identity_providers).where(identity_providers.c.tenant_id == tenant_id)
            ).first()
            if found is None:
                values.setdefault("client_secret_encrypted", None)
                connection.execute(insert(identity_providers).values(tenant_id=tenant_id, **values))
            else:
                connection.execute(
                    update(identity_providers).where(identity_providers.c.tenant_id == tenant_id).values(**values)
                )
            if actor is not None:
                before = None if found is None else _audited_provider(found._mapping)
                record(
                    connection,
                    tenant_id=tenant_id,
                    actor=actor,
                    action="sso.created" if found is None else "sso.updated",
                    target_type="sso",
                    target_id=tenant_id,
                    before=before,
                    after=_audited_provider({**(found._mapping if found is not None else {}), **values}),
                )
        config = self.provider(tenant_id)
        assert config is not None
        return config

    def record_refusal(self, tenant_id: str, code: str, detail: str) -> None:
        """A refused sign-in, for the tenant's admin (the person who was refused saw only a plain reason). Blocking.
        Only the newest REFUSALS_KEPT are kept, so a flood of forged callbacks cannot fill the database."""
        if not tenant_id:
            return
        with self.engine.begin() as connection:
            if connection.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
                return
            connection.execute(
                insert(sso_warnings).values(
                    tenant_id=tenant_id,
                    id=str(uuid.uuid4()),
                    kind=REFUSAL_KIND,
                    message=f"A sign-in was refused ({code}): {redact_query(detail)[:500]}",
                    agent_ids="",
                    created_at=self.clock.now(),
                )
            )
            newest = (
                select(sso_warnings.c.id)
                .where(sso_warnings.c.tenant_id == tenant_id, sso_warnings.c.kind == REFUSAL_KIND)
                .order_by(sso_warnings.c.created_at.desc())
                .limit(REFUSALS_KEPT)
            )
            connection.execute(
                delete(sso_warnings).where(
                    sso_warnings.c.tenant_id == tenant_id,
                    sso_warnings.c.kind == REFUSAL_KIND,
                    sso_warnings.c.id.not_in(newest.scalar_subquery()),
                )
            )

    def warnings(self, tenant_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(sso_warnings)
                .where(sso_warnings.c.tenant_id == tenant_id)
                .order_by(sso_warnings.c.created_at.desc())
            ).all()
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "message": r.message,
                "agent_ids": [a for a in r.agent_ids.split(",") if a],
                "created_at": r.created_at,
            }
            for r in rows
        ]

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

        def read() -> Any:
            with self.engine.connect() as connection:
                return connection.execute(
                    select(provider_tokens).where(
                        provider_tokens.c.tenant_id == tenant_id, provider_tokens.c.agent_id == agent_id
                    )
                ).first()

        row = await asyncio.to_thread(read)
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
        where = (provider_tokens.c.tenant_id == tenant_id, provider_tokens.c.agent_id == agent_id)
        with self.engine.begin() as connection:
            row = connection.execute(select(provider_tokens).where(*where)).first()
            connection.execute(delete(provider_tokens).where(*where))
        return row

    def _take_handoff(self, code: str) -> Any:
        with self.engine.begin() as connection:
            row = connection.execute(select(sso_handoffs).where(sso_handoffs.c.code_hash == digest(code))).first()
            if row is not None:  # single use, whatever happens next
                connection.execute(delete(sso_handoffs).where(sso_handoffs.c.code_hash == row.code_hash))
        return row

    def _agent_flags(self, tenant_id: str, agent_id: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(agents.c.enabled, agents.c.auto_login).where(
                    agents.c.tenant_id == tenant_id, agents.c.id == agent_id
                )
            ).first()

    def _link(self, pending: Any, identity: Identity, tokens: Any, now: float) -> tuple[str, bool, str]:
        """Links the identity to its agent and keeps the provider's tokens; for a popup, a one-time hand-off."""
        handoff = ""
        with self.engine.begin() as connection:
            agent_id = link_identity(connection, pending.tenant_id, identity, now)
            self._store_tokens(connection, pending.tenant_id, agent_id, identity.issuer_key, pending.sandbox, tokens)
            auto_login = bool(
                connection.execute(
                    select(agents.c.auto_login).where(agents.c.tenant_id == pending.tenant_id, agents.c.id == agent_id)
                ).scalar_one()
            )
            if pending.popup:
                handoff = secrets.token_urlsafe(32)
                connection.execute(delete(sso_handoffs).where(sso_handoffs.c.expires_at < now))
                connection.execute(
                    insert(sso_handoffs).values(
                        code_hash=digest(handoff),
                        tenant_id=pending.tenant_id,
                        agent_id=agent_id,
                        challenge=pending.handoff_challenge,
                        expires_at=now + HANDOFF_SECONDS,
                    )
                )
        return agent_id, auto_login, handoff

    def _record_pending(self, pending: dict[str, Any], now: float) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(sso_pending_logins).where(sso_pending_logins.c.expires_at < now))
            connection.execute(insert(sso_pending_logins).values(**pending))

    def _take_pending(self, browser_secret: str, state: str) -> Any:
        if not state:
            raise SignInRefused("state_mismatch", "this sign-in has no state: start again from your CRM")
        now = self.clock.now()
        with self.engine.begin() as connection:
            row = connection.execute(
                select(sso_pending_logins).where(sso_pending_logins.c.state_hash == digest(state))
            ).first()
            if row is None:
                raise SignInRefused("state_mismatch", "this sign-in is unknown or was already finished: start again")
            if not browser_secret or not hmac.compare_digest(row.browser_hash, digest(browser_secret)):
                # Not this browser's sign-in (login CSRF): leave it for the browser that started it.
                raise SignInRefused("state_mismatch", "this sign-in was started in another browser: start again")
            connection.execute(delete(sso_pending_logins).where(sso_pending_logins.c.state_hash == row.state_hash))
        if row.expires_at <= now:
            raise SignInRefused("expired", "this sign-in took too long: start again")
        return row

    def _keep_tokens(self, tenant_id: str, agent_id: str, issuer_key: str, sandbox: bool, tokens: Any) -> None:
        with self.engine.begin() as connection:
            self._store_tokens(connection, tenant_id, agent_id, issuer_key, sandbox, tokens)

    def _store_tokens(
        self, connection: Connection, tenant_id: str, agent_id: str, issuer_key: str, sandbox: bool, tokens: Any
    ) -> None:
        values = {
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
        where = (provider_tokens.c.tenant_id == tenant_id, provider_tokens.c.agent_id == agent_id)
        if connection.execute(select(provider_tokens.c.agent_id).where(*where)).first() is None:
            connection.execute(insert(provider_tokens).values(tenant_id=tenant_id, agent_id=agent_id, **values))
        else:
            connection.execute(update(provider_tokens).where(*where).values(**values))


def link_identity(connection: Connection, tenant_id: str, identity: Identity, now: float) -> str:
    """The agent this identity signs in as, linking it on first sign-in. Raises SignInRefused."""
    linked = connection.execute(
        select(linked_identities.c.agent_id).where(
            linked_identities.c.tenant_id == tenant_id,
            linked_identities.c.issuer == identity.issuer_key,
            linked_identities.c.subject == identity.subject,
        )
    ).first()
    if linked is not None:
        agent = connection.execute(
            select(agents.c.enabled).where(agents.c.tenant_id == tenant_id, agents.c.id == linked.agent_id)
        ).first()
        if agent is None or not agent.enabled:
            raise SignInRefused("agent_disabled", "your agent account is disabled")
        connection.execute(
            update(linked_identities)
            .where(
                linked_identities.c.tenant_id == tenant_id,
                linked_identities.c.issuer == identity.issuer_key,
                linked_identities.c.subject == identity.subject,
            )
            .values(last_sign_in_at=now)
        )
        return str(linked.agent_id)
    if not identity.email:
        raise SignInRefused("no_email", "your CRM account has no e-mail address Callbridge may see")
    if not identity.email_verified:
        raise SignInRefused("unverified_email", f"your CRM account's e-mail {identity.email} is not verified")
    candidates: Sequence[Any] = connection.execute(
        select(agents.c.id, agents.c.enabled)
        .where(agents.c.tenant_id == tenant_id, func.lower(agents.c.email) == identity.email.lower())
        .order_by(agents.c.created_at, agents.c.id)
    ).all()
    if not candidates:
        raise SignInRefused("unknown_email", f"no agent account has the e-mail {identity.email}")
    chosen = candidates[0]
    taken = connection.execute(
        select(linked_identities.c.subject).where(
            linked_identities.c.tenant_id == tenant_id,
            linked_identities.c.issuer == identity.issuer_key,
            linked_identities.c.agent_id == chosen.id,
        )
    ).first()
    if taken is not None:
        raise SignInRefused(
            "email_taken", f"the agent account with the e-mail {identity.email} is linked to another CRM user"
        )
    if not chosen.enabled:
        raise SignInRefused("agent_disabled", "your agent account is disabled")
    connection.execute(
        insert(linked_identities).values(
            tenant_id=tenant_id,
            issuer=identity.issuer_key,
            subject=identity.subject,
            agent_id=chosen.id,
            email_at_link=identity.email.lower(),
            linked_at=now,
            last_sign_in_at=now,
        )
    )
    if len(candidates) > 1:
        ids = [str(c.id) for c in candidates]
        connection.execute(
            insert(sso_warnings).values(
                tenant_id=tenant_id,
                id=str(uuid.uuid4()),
                kind="duplicate_email",
                message=(
                    f"{len(ids)} agent accounts have the e-mail {identity.email.lower()}: the oldest, {ids[0]}, "
                    f"was linked to the CRM user who signed in; {', '.join(ids[1:])} cannot sign in with single "
                    "sign-on until each has its own e-mail"
                ),
                agent_ids=",".join(ids),
                created_at=now,
            )
        )
    return str(chosen.id)


def _with_openid(scope: str) -> str:
    items = scope.split()
    return " ".join(items if "openid" in items else ["openid", *items])


def _is_host(value: str) -> bool:
    value = value.strip().lower()
    return bool(value) and all(part and part.replace("-", "").isalnum() for part in value.split("."))


def _keep_refresh(tokens: Any, refresh_token: str) -> Any:
    from dataclasses import replace

    return replace(tokens, refresh_token=refresh_token)


AUDITED_PROVIDER_FIELDS = (
    "kind",
    "display_name",
    "issuer",
    "discovery_url",
    "login_host",
    "sandbox_login_host",
    "client_id",
    "scope",
)


def _audited_provider(row: Any) -> dict[str, Any]:
    """The audited view of a provider row: the secret as its ciphertext, so a new one shows as changed."""
    values = {f: row.get(f) for f in AUDITED_PROVIDER_FIELDS}
    secret = row.get("client_secret_encrypted")
    values["client_secret"] = secret.hex() if isinstance(secret, bytes) else secret
    return values
