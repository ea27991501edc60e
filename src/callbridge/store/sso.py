"""Single sign-on's rows: each tenant's identity provider, pending sign-ins, one-time hand-offs to the console
frame, the identities linked to agents, the provider tokens kept for agents (encrypted by the caller), and the
warnings shown to the tenant's admin."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update

from callbridge.auth.oidc import Identity, SignInRefused
from callbridge.domain.audit import Actor
from callbridge.store.audit import record
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


@dataclass(frozen=True, slots=True)
class Handoff:
    """A one-time code (by its hash) that lets the console frame redeem a sign-in finished in a popup."""

    code_hash: str
    challenge: str
    expires_at: float


def tenant_exists(engine: Engine, tenant_id: str) -> bool:
    with engine.connect() as connection:
        return connection.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is not None


# ------------------------------------------------------------------ the identity provider


def provider(engine: Engine, tenant_id: str) -> Row[Any] | None:
    with engine.connect() as connection:
        return connection.execute(select(identity_providers).where(identity_providers.c.tenant_id == tenant_id)).first()


def _audited_provider(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The audited view of a provider row: the secret as its ciphertext, so a new one shows as changed."""
    values = {f: row.get(f) for f in AUDITED_PROVIDER_FIELDS}
    secret = row.get("client_secret_encrypted")
    values["client_secret"] = secret.hex() if isinstance(secret, bytes) else secret
    return values


def save_provider(engine: Engine, tenant_id: str, values: Mapping[str, Any], actor: Actor | None) -> None:
    """Creates or updates the tenant's provider; with an `actor`, audited in the same transaction (the client
    secret only as changed)."""
    values = dict(values)
    with engine.begin() as connection:
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


# ------------------------------------------------------------------ warnings for the admin


def add_refusal(engine: Engine, tenant_id: str, message: str, now: float, *, keep: int) -> None:
    """A refused sign-in, for an existing tenant's admin; only the newest `keep` are kept."""
    with engine.begin() as connection:
        if connection.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
            return
        connection.execute(
            insert(sso_warnings).values(
                tenant_id=tenant_id,
                id=str(uuid.uuid4()),
                kind=REFUSAL_KIND,
                message=message,
                agent_ids="",
                created_at=now,
            )
        )
        newest = (
            select(sso_warnings.c.id)
            .where(sso_warnings.c.tenant_id == tenant_id, sso_warnings.c.kind == REFUSAL_KIND)
            .order_by(sso_warnings.c.created_at.desc())
            .limit(keep)
        )
        connection.execute(
            delete(sso_warnings).where(
                sso_warnings.c.tenant_id == tenant_id,
                sso_warnings.c.kind == REFUSAL_KIND,
                sso_warnings.c.id.not_in(newest.scalar_subquery()),
            )
        )


def warnings(engine: Engine, tenant_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(sso_warnings).where(sso_warnings.c.tenant_id == tenant_id).order_by(sso_warnings.c.created_at.desc())
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


# ------------------------------------------------------------------ sign-ins under way


def add_pending(engine: Engine, pending: Mapping[str, Any], now: float) -> None:
    """Records a sign-in started now (and drops those expired)."""
    with engine.begin() as connection:
        connection.execute(delete(sso_pending_logins).where(sso_pending_logins.c.expires_at < now))
        connection.execute(insert(sso_pending_logins).values(**pending))


def take_pending(engine: Engine, state_hash: str, browser_hash: str | None) -> tuple[Row[Any] | None, bool]:
    """The pending sign-in with this state and whether it was taken (deleted): only by the browser that
    started it (`browser_hash`), so a forged callback leaves it for that browser."""
    with engine.begin() as connection:
        row = connection.execute(
            select(sso_pending_logins).where(sso_pending_logins.c.state_hash == state_hash)
        ).first()
        if row is None:
            return None, False
        if not browser_hash or not hmac.compare_digest(row.browser_hash, browser_hash):
            return row, False
        connection.execute(delete(sso_pending_logins).where(sso_pending_logins.c.state_hash == row.state_hash))
    return row, True


def take_handoff(engine: Engine, code_hash: str) -> Row[Any] | None:
    """Single use, whatever happens next."""
    with engine.begin() as connection:
        row = connection.execute(select(sso_handoffs).where(sso_handoffs.c.code_hash == code_hash)).first()
        if row is not None:
            connection.execute(delete(sso_handoffs).where(sso_handoffs.c.code_hash == row.code_hash))
    return row


@dataclass(frozen=True, slots=True)
class AgentFlags:
    enabled: bool
    auto_login: bool


def agent_flags(engine: Engine, tenant_id: str, agent_id: str) -> AgentFlags | None:
    """The agent's `enabled` and `auto_login` (None: no such agent)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(agents.c.enabled, agents.c.auto_login).where(
                agents.c.tenant_id == tenant_id, agents.c.id == agent_id
            )
        ).first()
    return None if row is None else AgentFlags(bool(row.enabled), bool(row.auto_login))


# ------------------------------------------------------------------ linked identities and their tokens


def link(
    engine: Engine,
    tenant_id: str,
    identity: Identity,
    now: float,
    token_values: Mapping[str, Any],
    handoff: Handoff | None,
) -> tuple[str, bool]:
    """Links the identity to its agent, keeps the provider's tokens and, for a popup, records the hand-off, in one
    transaction; returns the agent and their auto-login flag. Raises SignInRefused."""
    with engine.begin() as connection:
        agent_id = link_identity(connection, tenant_id, identity, now)
        write_tokens(connection, tenant_id, agent_id, token_values)
        auto_login = bool(
            connection.execute(
                select(agents.c.auto_login).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
            ).scalar_one()
        )
        if handoff is not None:
            connection.execute(delete(sso_handoffs).where(sso_handoffs.c.expires_at < now))
            connection.execute(
                insert(sso_handoffs).values(
                    code_hash=handoff.code_hash,
                    tenant_id=tenant_id,
                    agent_id=agent_id,
                    challenge=handoff.challenge,
                    expires_at=handoff.expires_at,
                )
            )
    return agent_id, auto_login


def tokens_of(engine: Engine, tenant_id: str, agent_id: str) -> Row[Any] | None:
    with engine.connect() as connection:
        return connection.execute(
            select(provider_tokens).where(
                provider_tokens.c.tenant_id == tenant_id, provider_tokens.c.agent_id == agent_id
            )
        ).first()


def keep_tokens(engine: Engine, tenant_id: str, agent_id: str, values: Mapping[str, Any]) -> None:
    with engine.begin() as connection:
        write_tokens(connection, tenant_id, agent_id, values)


def write_tokens(connection: Connection, tenant_id: str, agent_id: str, values: Mapping[str, Any]) -> None:
    """Inserts or replaces the agent's provider tokens (already encrypted) in the caller's transaction."""
    where = (provider_tokens.c.tenant_id == tenant_id, provider_tokens.c.agent_id == agent_id)
    if connection.execute(select(provider_tokens.c.agent_id).where(*where)).first() is None:
        connection.execute(insert(provider_tokens).values(tenant_id=tenant_id, agent_id=agent_id, **values))
    else:
        connection.execute(update(provider_tokens).where(*where).values(**values))


def forget_tokens(engine: Engine, tenant_id: str, agent_id: str) -> Row[Any] | None:
    """Deletes the provider tokens held for the agent and returns them (to revoke at the provider)."""
    where = (provider_tokens.c.tenant_id == tenant_id, provider_tokens.c.agent_id == agent_id)
    with engine.begin() as connection:
        row = connection.execute(select(provider_tokens).where(*where)).first()
        connection.execute(delete(provider_tokens).where(*where))
    return row


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
