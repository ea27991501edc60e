"""Sign-in sessions (only each token's hash is stored) and the local admin accounts that sign in with a password."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from callbridge.store.tables import admin_users, agents, sessions


@dataclass(frozen=True, slots=True)
class AdminUser:
    id: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class SessionHolder:
    """Who holds a live session: a local admin (`kind` admin) or an enabled agent, with their roles."""

    kind: str
    subject_id: str
    tenant_id: str | None
    roles: tuple[str, ...]


def add_admin_user(engine: Engine, admin_id: str, email: str, password_hash: str, now: float) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(admin_users).values(id=admin_id, email=email, password_hash=password_hash, created_at=now)
        )


def admin_user(engine: Engine, email: str) -> AdminUser | None:
    with engine.connect() as connection:
        row = connection.execute(select(admin_users).where(admin_users.c.email == email)).first()
    return None if row is None else AdminUser(str(row.id), row.password_hash)


def add_session(
    engine: Engine, token_hash: str, kind: str, subject_id: str, tenant_id: str | None, now: float, expires_at: float
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(sessions).values(
                token_hash=token_hash,
                kind=kind,
                tenant_id=tenant_id,
                subject_id=subject_id,
                created_at=now,
                expires_at=expires_at,
            )
        )


def remove_session(engine: Engine, token_hash: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


def session_holder(engine: Engine, token_hash: str, now: float) -> SessionHolder | None:
    """None for an unknown or expired session, or an agent's who is gone or disabled."""
    with engine.connect() as connection:
        row = connection.execute(select(sessions).where(sessions.c.token_hash == token_hash)).first()
        if row is None or row.expires_at <= now:
            return None
        if row.kind == "admin":
            return SessionHolder("admin", row.subject_id, None, ())
        agent = connection.execute(
            select(agents.c.roles, agents.c.enabled).where(
                agents.c.tenant_id == row.tenant_id, agents.c.id == row.subject_id
            )
        ).first()
    if agent is None or not agent.enabled:
        return None
    return SessionHolder(row.kind, row.subject_id, row.tenant_id, tuple(agent.roles))
