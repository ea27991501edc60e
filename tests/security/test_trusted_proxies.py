"""Rate limits count the real client: `X-Forwarded-For` is believed only from the proxies an operator names
(`CALLBRIDGE_TRUSTED_PROXIES`), never from whoever sends it, loopback included. Against a real server, served
as `callbridge serve` serves it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from callbridge.config import Settings
from tests.e2e.conftest import running_server

ADMIN, PASSWORD = "root@example.com", "correct horse battery"
STARTS_PER_MINUTE = 3


@contextlib.contextmanager
def widget_server(tmp: Path, **settings: Any) -> Iterator[httpx.Client]:
    """A served Callbridge with tenant `t1` and its chat queue `support`; yields a client of it."""
    with (
        running_server(tmp, ADMIN, PASSWORD, chat_starts_per_minute=STARTS_PER_MINUTE, **settings) as base,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        login = http.post("/api/v1/auth/admin-sessions", json={"email": ADMIN, "password": PASSWORD})
        admin = {"Authorization": f"Bearer {login.json()['token']}"}
        assert http.post("/api/v1/tenants", json={"id": "t1", "name": "T1"}, headers=admin).status_code == 201
        queue = {"id": "support", "name": "Support", "channel": "chat"}
        assert http.post("/api/v1/tenants/t1/queues", json=queue, headers=admin).status_code == 201
        yield http


def start_chat(http: httpx.Client, forwarded_for: str) -> int:
    body = {"queue": "support", "name": "Ann", "email": "ann@example.com"}
    response = http.post("/chat/v1/t1/conversations", json=body, headers={"X-Forwarded-For": forwarded_for})
    return response.status_code


def test_a_client_cannot_escape_the_per_address_limit_by_naming_another_address(tmp_path: Path) -> None:
    with widget_server(tmp_path) as http:
        statuses = [start_chat(http, f"203.0.113.{n}") for n in range(1, STARTS_PER_MINUTE + 3)]
    assert statuses == [201] * STARTS_PER_MINUTE + [429, 429]


def test_behind_a_configured_proxy_each_forwarded_client_has_its_own_limit(tmp_path: Path) -> None:
    with widget_server(tmp_path, trusted_proxies="127.0.0.1, ::1") as http:
        first = [start_chat(http, "203.0.113.7") for _ in range(STARTS_PER_MINUTE + 1)]
        second = [start_chat(http, "203.0.113.8") for _ in range(STARTS_PER_MINUTE)]
        # a client cannot prepend addresses: the proxy's own entry (the rightmost) is the one that counts
        spoofed = start_chat(http, "198.51.100.1, 203.0.113.7")
    assert first == [201] * STARTS_PER_MINUTE + [429]
    assert second == [201] * STARTS_PER_MINUTE
    assert spoofed == 429


@pytest.mark.parametrize("value", ["*", "proxy.example", "10.0.0.0/33", "127.0.0.1,nonsense"])
def test_trusted_proxies_must_be_addresses_or_networks(value: str) -> None:
    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings(trusted_proxies=value)


def test_trusted_proxies_are_read_as_networks() -> None:
    settings = Settings(trusted_proxies=" 10.0.0.5, 10.1.2.3/16 ,::1")
    assert settings.trusted_proxy_networks() == ["10.0.0.5/32", "10.1.0.0/16", "::1/128"]
    assert Settings().trusted_proxy_networks() == []


def test_callbridge_is_served_only_through_its_server_config() -> None:
    """uvicorn's own defaults trust loopback's forwarding headers: every place that serves Callbridge must go
    through callbridge.web.server.server_config, which turns them off."""
    root = Path(__file__).resolve().parents[2]
    allowed = root / "src" / "callbridge" / "web" / "server.py"
    offenders = [
        f"{path.relative_to(root)}: {line.strip()}"
        for folder in ("src", "tests", "bench")
        for path in (root / folder).rglob("*.py")
        if path != allowed
        for line in path.read_text().splitlines()
        if re.search(r"uvicorn\.(Config|run)\(", line)
    ]
    assert offenders == []
