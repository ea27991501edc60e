"""Clustering is for PostgreSQL only; SQLite stays the single-node default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callbridge.config import Settings


def test_sqlite_is_single_node_by_default() -> None:
    settings = Settings(database_url="sqlite:///var/x.db")
    assert settings.cluster_enabled is False


def test_a_cluster_on_sqlite_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValidationError, match="needs PostgreSQL"):
        Settings(database_url="sqlite:///var/x.db", cluster_enabled=True)


def test_a_node_is_named_after_its_host_and_port_unless_named() -> None:
    settings = Settings(database_url="postgresql+psycopg://db/cb", cluster_enabled=True, port=8001)
    assert settings.effective_node_id().endswith(":8001")
    assert settings.effective_node_url() == "http://127.0.0.1:8001"
    named = Settings(database_url="postgresql+psycopg://db/cb", cluster_enabled=True, node_id="node-a")
    assert named.effective_node_id() == "node-a"


def test_a_bus_without_a_cluster_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValidationError, match="CALLBRIDGE_CLUSTER_ENABLED=true"):
        Settings(database_url="postgresql+psycopg://db/cb", bus_url="nats://127.0.0.1:4222")
