"""Request rate limits: one layer for both applications (Callbridge and the built-in CRM).

A limit has a name (`sign_in`, `anonymous` …) and a rate in the `limits` library's notation (`60/minute`), and is
counted per key, the client's address as each app's trusted-proxy rule gives it. Counting is the `limits`
library's fixed window; the counters live in one storage per application:

- `memory`: in the process. The default with SQLite, where one process serves the whole installation.
- `database`: a table of counters (`rate_limit_counters`), one atomic upsert per request. The default with
  PostgreSQL, so that every node of an installation counts the same requests.
- a `limits` storage URI such as `redis://host:6379/0`: Redis, shared by every node that names it.

A refused request is answered 429 with `Retry-After` (the seconds until its window ends) and a message saying
when to try again (`Refusal`). If the storage cannot be reached, the request is let through and a warning
logged: a broken counter must not lock everyone out.

This package imports neither application, and is imported by both as a library would be.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

__all__ = [
    "DatabaseStorage",
    "RateLimits",
    "Refusal",
    "counters_table",
    "open_storage",
    "valid_rate",
]

PRUNE_EVERY = 500  # hits between two deletions of expired counters (database storage)


def valid_rate(text: str) -> str:
    """`text` if it is a rate such as `60/minute` or `10 per second`; ValueError otherwise (for settings)."""
    try:
        parse(text)
    except ValueError as problem:
        raise ValueError(f"not a rate such as '60/minute' ({problem})") from None
    return text


def counters_table(metadata: MetaData) -> Table:
    """The database storage's table, declared on the application's own metadata (and in its migrations)."""
    return Table(
        "rate_limit_counters",
        metadata,
        Column("key", String(400), primary_key=True),
        Column("hits", Integer, nullable=False),
        Column("expires_at", Float, nullable=False),  # seconds since the epoch; the window ends then
    )


class DatabaseStorage(Storage):
    """Fixed-window counters in a table (PostgreSQL or SQLite): each hit is one upsert that restarts a counter
    whose window ended, so concurrent hits from several nodes are all counted. Expired rows are deleted now
    and then. Blocking: call it from a worker thread."""

    STORAGE_SCHEME = None  # made with an engine, never from a URI

    def __init__(self, engine: Engine, table: Table, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.engine = engine
        self.table = table
        self.clock = clock
        self._hits = itertools.count(1)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        counters = self.table.c
        with self.engine.begin() as connection:
            insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(self.table)
            ended = counters.expires_at <= now
            upsert = insert.values(key=key, hits=amount, expires_at=now + expiry).on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "hits": case((ended, amount), else_=counters.hits + amount),
                    "expires_at": case((ended, now + expiry), else_=counters.expires_at),
                },
            )
            hits = int(connection.execute(upsert.returning(counters.hits)).scalar_one())
            if next(self._hits) % PRUNE_EVERY == 0:
                connection.execute(delete(self.table).where(counters.expires_at <= now))
        return hits

    def _row(self, key: str) -> tuple[int, float] | None:
        counters = self.table.c
        with self.engine.connect() as connection:
            now = self.clock()
            live = select(counters.hits, counters.expires_at).where(counters.key == key, counters.expires_at > now)
            row = connection.execute(live).first()
        return None if row is None else (int(row.hits), float(row.expires_at))

    def get(self, key: str) -> int:
        row = self._row(key)
        return 0 if row is None else row[0]

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return self.clock() if row is None else row[1]

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return connection.execute(delete(self.table)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(self.table).where(self.table.c.key == key))


def open_storage(setting: str, *, engine: Engine | None = None, table: Table | None = None) -> Storage:
    """The storage a setting names: `""` (the database when it is PostgreSQL, memory otherwise), `memory`,
    `database`, or a `limits` storage URI (`redis://…`). ValueError names what is wrong."""
    choice = setting.strip()
    if not choice:
        shared = engine is not None and engine.url.get_backend_name() == "postgresql"
        choice = "database" if shared else "memory"
    if choice in ("memory", "memory://"):
        return MemoryStorage()
    if choice == "database":
        if engine is None or table is None:
            raise ValueError("the database rate-limit storage needs the application's database")
        return DatabaseStorage(engine, table)
    try:
        storage = storage_from_string(choice)
    except Exception as problem:  # the library raises its own ConfigurationError, or the driver's
        raise ValueError(f"rate-limit storage {choice!r}: {problem}") from None
    if not isinstance(storage, Storage):  # an asynchronous storage (`async+redis://`): counted from threads here
        raise ValueError(f"rate-limit storage {choice!r}: name a synchronous storage (redis://…), not async+…")
    return storage


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request over its limit: wait `retry_after` seconds (the `Retry-After` header)."""

    retry_after: int

    @property
    def message(self) -> str:
        seconds = self.retry_after
        wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
        return f"Too many requests from your address: try again in {wait}."

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimits:
    """The named limits of one application, over one storage."""

    def __init__(self, storage: Storage, rates: Mapping[str, str]) -> None:
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)
        self.items: dict[str, RateLimitItem] = {name: parse(rate) for name, rate in rates.items()}

    @property
    def blocking(self) -> bool:
        """Whether a hit does I/O (database, Redis): async code then counts from a worker thread."""
        return not isinstance(self.storage, MemoryStorage)

    def hit(self, name: str, key: str) -> Refusal | None:
        """Counts one request of `key` against the limit `name`; the refusal when it is over."""
        item = self.items[name]
        try:
            if self.limiter.hit(item, name, key):
                return None
            reset_at = self.limiter.get_window_stats(item, name, key).reset_time
        except Exception:  # the storage is down: let the request through rather than refuse everyone
            log.warning("rate limit %s not counted: its storage failed", name, exc_info=True)
            return None
        return Refusal(max(1, math.ceil(reset_at - time.time())))

    async def check(self, name: str, key: str) -> Refusal | None:
        """`hit`, off the event loop when the storage does I/O."""
        if self.blocking:
            return await asyncio.to_thread(self.hit, name, key)
        return self.hit(name, key)
