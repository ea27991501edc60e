"""Database fixtures: every store test runs on SQLite and on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from callbridge.store.database import make_engine, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty Callbridge database."""
    if request.param == "sqlite":
        db = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        upgrade(db)
        yield db
        db.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"cb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
