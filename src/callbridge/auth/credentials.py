"""Secrets Callbridge hands out: session tokens, API keys, WebSocket tickets.

Only hashes are stored: a stolen database yields no usable credential.
Tokens carry a prefix that says what they are (`cbs_` session, `cbk_` API
key), which also makes them easy to find in leaked logs.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine

from callbridge.auth.principal import Principal, PrincipalKind
from callbridge.domain.audit import SYSTEM, Actor
from callbridge.domain.model import Role
from callbridge.store import api_keys as stored_keys
from callbridge.store import sessions as stored_sessions
from callbridge.store import tickets as stored_tickets

SESSION_PREFIX = "cbs_"
API_KEY_PREFIX = "cbk_"
SESSION_SECONDS = 12 * 3600

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_admin_user(engine: Engine, email: str, password: str) -> str:
    admin_id = str(uuid.uuid4())
    stored_sessions.add_admin_user(engine, admin_id, email.strip().lower(), hash_password(password), time.time())
    return admin_id


def authenticate_admin(engine: Engine, email: str, password: str) -> str | None:
    row = stored_sessions.admin_user(engine, email.strip().lower())
    if row is None:
        verify_password(_dummy_hash(), password)  # same work either way: no user enumeration by timing
        return None
    return row.id if verify_password(row.password_hash, password) else None


@functools.cache
def _dummy_hash() -> str:
    # made on first need, not at import: an Argon2 hash costs every process start 0.1-2 s of CPU
    return _hasher.hash("callbridge-timing-equaliser")


def create_session(engine: Engine, kind: str, subject_id: str, tenant_id: str | None, now: float) -> str:
    """A new session token (a new token at every sign-in: no session fixation)."""
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    stored_sessions.add_session(engine, _digest(token), kind, subject_id, tenant_id, now, now + SESSION_SECONDS)
    return token


def end_session(engine: Engine, token: str) -> None:
    stored_sessions.remove_session(engine, _digest(token))
    _forget(_digest(token))


# Who a token belongs to, remembered for a few seconds: a request then costs no database read.
# Signing out, revoking a key, and changing an agent's roles or enabled flag forget entries at once, on
# every node of a cluster (the bus passes it on: `principals_forgotten`); a database read that was under
# way when an entry was forgotten is not remembered (`_generation`), so it cannot bring the entry back.
PRINCIPAL_CACHE_SECONDS = 5.0
_recent_principals: dict[str, tuple[Principal, float]] = {}
_generation = 0
# called (from any thread) with the digest forgotten, or None for every entry: the bus tells the other nodes
principals_forgotten: list[Callable[[str | None], None]] = []


def _forget(key: str | None) -> None:
    forget_locally(key)
    for tell in principals_forgotten:
        tell(key)


def forget_locally(key: str | None) -> None:
    """Drops one remembered token (by digest) or all of them (None), on this node only."""
    global _generation  # noqa: PLW0603 - one cache per process, like the dict itself
    _generation += 1
    if key is None:
        _recent_principals.clear()
    else:
        _recent_principals.pop(key, None)


def recent_principal(token: str, now: float) -> Principal | None:
    """The principal remembered for this token, if still fresh: no database read, so the event loop may ask."""
    hit = _recent_principals.get(_digest(token))
    return hit[0] if hit is not None and hit[1] > now else None


def cached_principal_for_token(engine: Engine, token: str, now: float) -> Principal | None:
    """Blocking (a database read on a miss): call it from a worker thread."""
    key = _digest(token)
    hit = _recent_principals.get(key)
    if hit is not None and hit[1] > now:
        return hit[0]
    generation = _generation
    found = principal_for_token(engine, token, now)
    if found is None:
        _recent_principals.pop(key, None)
        return None
    if generation != _generation:
        return found  # something was forgotten meanwhile: this read may predate it, so do not remember it
    if len(_recent_principals) > 50_000:
        _recent_principals.clear()
    _recent_principals[key] = (found, now + PRINCIPAL_CACHE_SECONDS)
    return found


def forget_principals() -> None:
    """Drops every remembered token (e.g. after agents' roles or enabled flags change), on every node."""
    _forget(None)


def principal_for_token(engine: Engine, token: str, now: float) -> Principal | None:
    if token.startswith(SESSION_PREFIX):
        return _principal_for_session(engine, token, now)
    if token.startswith(API_KEY_PREFIX):
        return _principal_for_api_key(engine, token)
    return None


def _principal_for_session(engine: Engine, token: str, now: float) -> Principal | None:
    holder = stored_sessions.session_holder(engine, _digest(token), now)
    if holder is None:
        return None
    if holder.kind == "admin":
        return Principal(PrincipalKind.LOCAL_ADMIN, holder.subject_id, None, frozenset(Role))
    return Principal(PrincipalKind.AGENT, holder.subject_id, holder.tenant_id, frozenset(Role(r) for r in holder.roles))


@dataclass(frozen=True, slots=True)
class NewApiKey:
    id: str
    name: str
    prefix: str
    secret: str  # shown once, never stored


def create_api_key(engine: Engine, tenant_id: str, name: str, now: float, *, actor: Actor = SYSTEM) -> NewApiKey:
    key_id = str(uuid.uuid4())
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[: len(API_KEY_PREFIX) + 6]
    stored_keys.add_key(engine, tenant_id, key_id, name, prefix, _digest(secret), now, actor)
    return NewApiKey(key_id, name, prefix, secret)


def revoke_api_key(engine: Engine, tenant_id: str, key_id: str, now: float, *, actor: Actor = SYSTEM) -> bool:
    secret_hash = stored_keys.revoke_key(engine, tenant_id, key_id, now, actor)
    if secret_hash is None:
        return False
    _forget(secret_hash)  # after the commit: a node reading the key again finds it revoked
    return True


def _principal_for_api_key(engine: Engine, secret: str) -> Principal | None:
    key = stored_keys.key_by_secret_hash(engine, _digest(secret))
    if key is None or key.revoked:
        return None
    return Principal(PrincipalKind.API_KEY, key.id, key.tenant_id)


class TicketBook:
    """Short-lived, single-use WebSocket tickets, obtained through an authenticated request.

    A ticket in the WebSocket URL is harmless in a log: it expires in seconds
    and works once.
    """

    def __init__(self, lifetime_seconds: float) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._tickets: dict[str, tuple[Principal, float]] = {}

    def issue(self, principal: Principal, now: float) -> str:
        self._tickets = {t: v for t, v in self._tickets.items() if v[1] > now}
        ticket = secrets.token_urlsafe(24)
        self._tickets[ticket] = (principal, now + self.lifetime_seconds)
        return ticket

    def redeem(self, ticket: str, now: float) -> Principal | None:
        found = self._tickets.pop(ticket, None)
        if found is None or found[1] <= now:
            return None
        return found[0]


class StoredTicketBook(TicketBook):
    """Tickets in the database (`store.tickets`), for a cluster: the WebSocket may reach another node than
    the one that issued its ticket. Blocking: issue and redeem from worker threads."""

    def __init__(self, engine: Engine, lifetime_seconds: float) -> None:
        super().__init__(lifetime_seconds)
        self.engine = engine

    def issue(self, principal: Principal, now: float) -> str:
        ticket = secrets.token_urlsafe(24)
        who = {
            "kind": principal.kind.value,
            "subject_id": principal.subject_id,
            "tenant_id": principal.tenant_id,
            "roles": sorted(r.value for r in principal.roles),
        }
        stored_tickets.save(self.engine, _digest(ticket), who, now + self.lifetime_seconds, now)
        return ticket

    def redeem(self, ticket: str, now: float) -> Principal | None:
        who = stored_tickets.take(self.engine, _digest(ticket), now)
        if who is None:
            return None
        roles = frozenset(Role(r) for r in who.get("roles", []))
        return Principal(PrincipalKind(who["kind"]), str(who["subject_id"]), who.get("tenant_id"), roles)
