"""A CRM that is down, or that writes and then loses the answer: logs are delayed, never lost or doubled."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callbridge.services.outbox import RelaySettings
from tests.crm.crm_helpers import Crm
from tests.crm_integration.conftest import (
    activities,
    connect_crm,
    enable_auto_log,
    make_crm_harness,
    restart,
    wait_until,
)
from tests.crm_integration.flows import handle, outbox
from tests.e2e.conftest import Harness


class DroppingProxy:
    """Forwards HTTP requests to the CRM; the first `drops` activity writes reach the CRM, but their
    answers are thrown away and the connection closed (the CRM wrote, the client never heard)."""

    def __init__(self, upstream: str, drops: int) -> None:
        self.upstream = upstream
        self.drops = drops
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._http = httpx.Client(base_url=upstream)
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            while len(body) < length:
                body += connection.recv(65536)
            forward = {k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type", "accept")}
            response = self._http.request(method, target, content=body, headers=forward)
            with self._lock:
                drop = method == "PUT" and "/activities/by-external-id/" in target and self.dropped < self.drops
                if drop:
                    self.dropped += 1
            if drop:
                return  # closes the connection without an answer
            reply = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n"
            reply += f"Content-Type: {response.headers.get('content-type', 'application/json')}\r\n"
            reply += f"Content-Length: {len(response.content)}\r\nConnection: close\r\n\r\n"
            connection.sendall(reply.encode("latin-1") + response.content)

    def close(self) -> None:
        self.listener.close()
        self._http.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    # backoff up to 1.5 s: a dead CRM is not hammered while the calls complete, and it recovers in seconds
    yield from make_crm_harness(
        tmp_path, RelaySettings(base_delay_seconds=0.1, max_delay_seconds=1.5, poll_seconds=0.5)
    )


@pytest.fixture
def ready(harness: Harness, crm: Crm) -> tuple[dict[str, str], dict[str, str]]:
    harness.setup_tenant("acme", agents=1)
    enable_auto_log(harness)
    agent = harness.sign_in("acme", "agent1")
    harness.client.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    return agent, harness.api_key("acme")


def test_a_crm_outage_delays_logs_but_loses_and_duplicates_none(
    harness: Harness, crm: Crm, ready: tuple[dict[str, str], dict[str, str]]
) -> None:
    agent, pbx = ready
    connect_crm(harness, crm)
    before = len(activities(crm))
    crm.server.stop()

    ids = [handle(harness, agent, pbx, notes=f"call {n}", from_address=f"+1415555{n:04d}") for n in range(100)]
    wait_until(lambda: any(r["attempts"] >= 2 for r in outbox(harness, "pending")))
    assert len(outbox(harness, "pending")) == 100
    assert outbox(harness, "sent") == []
    restart(crm)
    wait_until(lambda: len(outbox(harness, "sent")) == 100, timeout=30)
    logged = [a for a in activities(crm)[before:] if a.external_id in set(ids)]
    assert sorted(a.external_id for a in logged) == sorted(ids)
    assert len(activities(crm)) == before + 100


def test_a_write_whose_answer_is_lost_is_written_once(
    harness: Harness, crm: Crm, ready: tuple[dict[str, str], dict[str, str]]
) -> None:
    agent, pbx = ready
    proxy = DroppingProxy(crm.base_url, drops=5)
    try:
        connect_crm(harness, crm, base_url=proxy.url)
        before = len(activities(crm))
        ids = [handle(harness, agent, pbx, notes=f"dropped {n}", from_address="+14155550100") for n in range(5)]
        wait_until(lambda: len(outbox(harness, "sent")) == 5, timeout=20)
        assert proxy.dropped == 5
        logged = activities(crm)[before:]
        assert sorted(a.external_id for a in logged) == sorted(ids)
        # each lost answer cost exactly one more attempt, and nothing else did
        assert sum(r["attempts"] for r in outbox(harness, "sent")) == 5 + 5
    finally:
        proxy.close()
