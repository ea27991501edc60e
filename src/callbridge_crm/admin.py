"""Administration from Python, for the CLI and for `callbridge demo`: users and OIDC clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from . import db as database
from .config import CrmSettings
from .oidc import SUPPORTED_SCOPES, ClientCredentials
from .oidc import register_client as _register_client
from .users import create_user as _create_user


@contextmanager
def _session(database_url: str) -> Iterator[Session]:
    settings = CrmSettings(database_url=database_url)
    engine = database.make_engine(database_url)
    try:
        database.initialise(engine, settings.organization_name, settings.default_region)
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def create_user(
    database_url: str,
    *,
    email: str,
    name: str,
    password: str,
    admin: bool = False,
    api_enabled: bool = True,
) -> int:
    """Create a CRM user; returns its id. Raises ValueError when the e-mail is taken or invalid."""
    with _session(database_url) as session:
        user = _create_user(session, email=email, name=name, password=password, admin=admin, api_enabled=api_enabled)
        session.commit()
        user_id: int = user.id
    return user_id


def register_client(
    database_url: str,
    *,
    name: str,
    redirect_uris: list[str],
    public: bool = False,
    scope: str = " ".join(SUPPORTED_SCOPES),
) -> ClientCredentials:
    """Register an OpenID Connect client; the secret (None for a public client) is shown only here."""
    with _session(database_url) as session:
        return _register_client(session, name, redirect_uris, public=public, scope=scope)
