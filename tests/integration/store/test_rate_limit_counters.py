"""Request rate-limit counters (callbridge_ratelimit) as Callbridge keeps them: in memory with SQLite, in the
database with PostgreSQL, where two nodes count the same requests, and in Redis when it is configured."""

from __future__ import annotations

import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from limits.storage import MemoryStorage
from sqlalchemy import Engine, create_engine, text

from callbridge.config import Settings
from callbridge.web.rate_limits import ANONYMOUS, SIGN_IN, rate_limits_from
from callbridge_ratelimit import DatabaseStorage, RateLimits, open_storage
from tests.conftest import _reachable, missing_service


def another_node(engine: Engine) -> Engine:
    """A second engine on the same database (and schema), as another node has."""
    if engine.url.get_backend_name() == "sqlite":
        return create_engine(engine.url)
    with engine.connect() as connection:
        schema = connection.execute(text("select current_schema()")).scalar_one()
    return create_engine(engine.url, connect_args={"options": f"-csearch_path={schema}"})


def test_sqlite_counts_in_the_process_and_postgresql_in_the_database(engine: Engine) -> None:
    limits = rate_limits_from(Settings(rate_limit_sign_in="3/minute"), engine)
    shared = engine.url.get_backend_name() == "postgresql"
    assert isinstance(limits.storage, DatabaseStorage if shared else MemoryStorage)
    assert limits.blocking is shared


def test_nodes_sharing_the_database_count_the_same_requests(engine: Engine) -> None:
    settings = Settings(rate_limit_sign_in="3/minute", rate_limit_storage="database")
    second = another_node(engine)
    try:
        node_a, node_b = rate_limits_from(settings, engine), rate_limits_from(settings, second)
        assert [node_a.hit(SIGN_IN, "10.0.0.7"), node_b.hit(SIGN_IN, "10.0.0.7"), node_a.hit(SIGN_IN, "10.0.0.7")] == [
            None
        ] * 3
        refusal = node_b.hit(SIGN_IN, "10.0.0.7")
        assert refusal is not None
        assert 1 <= refusal.retry_after <= 60
        assert "try again in" in refusal.message
        assert node_b.hit(SIGN_IN, "10.0.0.8") is None  # per address
        assert node_b.hit(ANONYMOUS, "10.0.0.7") is None  # per limit
    finally:
        second.dispose()


def test_concurrent_requests_are_each_counted_once(engine: Engine) -> None:
    limits = rate_limits_from(Settings(rate_limit_anonymous="20/minute", rate_limit_storage="database"), engine)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _i: limits.hit(ANONYMOUS, "10.0.0.9"), range(60)))
    assert sum(answer is None for answer in answers) == 20


def test_a_window_that_ended_starts_again(engine: Engine) -> None:
    from callbridge.store.rate_limits import rate_limit_counters

    now = [1000.0]
    storage = DatabaseStorage(engine, rate_limit_counters, clock=lambda: now[0])
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get_expiry("k") == 1060.0
    now[0] = 1060.5
    assert storage.get("k") == 0
    assert storage.incr("k", 60) == 1
    assert storage.get_expiry("k") == 1120.5


def test_a_storage_that_fails_lets_requests_through_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    from callbridge.store.rate_limits import rate_limit_counters

    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1})
    limits = RateLimits(DatabaseStorage(dead, rate_limit_counters), {ANONYMOUS: "1/minute"})
    with caplog.at_level(logging.WARNING):
        assert [limits.hit(ANONYMOUS, "10.0.0.1") for _ in range(3)] == [None] * 3
    assert "rate limit anonymous not counted" in caplog.text


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("CALLBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not _reachable(url, 6379):
        advice = "apt-get install redis-server (scripts/services starts it), or set CALLBRIDGE_TEST_REDIS_URL"
        missing_service("Redis", advice)
    return url


def test_nodes_naming_one_redis_count_the_same_requests(redis_url: str, engine: Engine) -> None:
    settings = Settings(rate_limit_sign_in="2/minute", rate_limit_storage=redis_url)
    node_a, node_b = rate_limits_from(settings, engine), rate_limits_from(settings, engine)
    address = f"10.1.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    assert node_a.hit(SIGN_IN, address) is None
    assert node_b.hit(SIGN_IN, address) is None
    refusal = node_a.hit(SIGN_IN, address)
    assert refusal is not None
    assert refusal.retry_after >= 1


def test_a_storage_setting_that_names_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="rate-limit storage"):
        open_storage("ftp://nowhere")
    with pytest.raises(ValueError, match="needs the application's database"):
        open_storage("database")
    with pytest.raises(ValueError, match="60/minute"):
        Settings(rate_limit_anonymous="lots")
