"""Engines and migrations. Nothing connects at import time.

SQLite runs in WAL mode with synchronous=NORMAL: commits survive a process
crash, and readers never block the writer. PostgreSQL gets the same schema
through the same migrations.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for `url`; on PostgreSQL a pool of `pool_size` connections (and as many more at busy times)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Brings the schema to the newest migration."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


def is_up_to_date(engine: Engine) -> bool:
    """Every head of the migration history is applied. A head that another migration depends on (`depends_on`,
    across branches) is not kept in the version table once that migration ran, so applied means: a current
    head, or one of their ancestors or dependencies."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return bool(current) and _covers_every_head(tuple(sorted(current)))


@functools.cache
def _covers_every_head(current: tuple[str, ...]) -> bool:
    # The scripts do not change while the process runs; reading them costs ~20 ms, and /readyz asks every second.
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    applied = {revision.revision for revision in script.revision_map.iterate_revisions(current, "base")}
    return set(script.get_heads()) <= applied
