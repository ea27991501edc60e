"""PostgreSQL only: leases and fencing are built on its row locks and clock (a fresh schema per test)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from callbridge.store.database import upgrade

# generous: a busy machine may be slow to schedule anything
DEADLINE_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_DEADLINE_SECONDS", "30"))


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(url, schema): an empty schema, dropped after the test."""
    schema = f"cb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_url, schema
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_engine(pg_schema: tuple[str, str]) -> Iterator[Engine]:
    """A migrated, empty Callbridge database on PostgreSQL."""
    url, schema = pg_schema
    db = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(db)
    try:
        yield db
    finally:
        db.dispose()


def wait_until(condition: Callable[[], object], what: str, deadline: float = DEADLINE_SECONDS) -> None:
    """Polls `condition` until it is true, failing after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the nodes of one test, dropped afterwards."""
    name = f"cb_cluster_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
