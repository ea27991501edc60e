"""The CRM's own database: engine, sessions, and the first-start set-up.

First start creates the schema, the organisation row and the ID-token signing key.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from .models import Base, Organization, SigningKey

MAX_RECORD_ID = 2**63 - 1  # the database's integer range: no id or whole number beyond it can be stored


def make_engine(database_url: str) -> Engine:
    is_sqlite = database_url.startswith("sqlite")
    engine = create_engine(
        database_url,
        connect_args={"check_same_thread": False, "timeout": 30} if is_sqlite else {},
        pool_size=8 if is_sqlite else 5,
    )
    if is_sqlite:
        event.listen(engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets page reads go on while an import writes; NORMAL sync is safe with WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    # Reads through a memory map instead of a read() call and copy per page: index lookups touch
    # a few pages each, and the phone search is the hot path.
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def initialise(engine: Engine, organization_name: str, default_region: str) -> None:
    """Create the schema, the organisation row and the ID-token signing key if they are missing."""
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        if session.scalar(select(Organization).limit(1)) is None:
            session.add(Organization(name=organization_name, default_region=default_region.upper()))
        if session.scalar(select(SigningKey).limit(1)) is None:
            key = RSAKey.generate_key(2048, private=True)
            kid = secrets.token_hex(8)
            session.add(SigningKey(kid=kid, private_jwk_json=json.dumps(key.as_dict(private=True, kid=kid))))


def organization(session: Session) -> Organization:
    org = session.scalar(select(Organization).order_by(Organization.id).limit(1))
    if org is None:
        raise RuntimeError("the CRM database is not initialised")
    return org
