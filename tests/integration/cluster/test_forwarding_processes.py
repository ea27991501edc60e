"""Three `callbridge serve` processes on one PostgreSQL database and one NATS bus: a request for a tenant
may land on any node. The nodes that do not hold the tenant forward its named operations to the one that
does and answer with its answer; its refusals (409, 422) come back as they are."""

from __future__ import annotations

import json
import os
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench._cluster_nodes import Nodes
from sqlalchemy import func, select, update
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from callbridge.auth.credentials import create_admin_user, create_session
from callbridge.store.database import make_engine, upgrade
from callbridge.store.tables import agents, interaction_events, interactions
from callbridge.web.deps import SESSION_COOKIE
from tests.integration.cluster.conftest import DEADLINE_SECONDS
from tests.integration.cluster.test_failover_processes import (
    LEASE_SECONDS,
    PASSWORD,
    START_SECONDS,
    TAKEOVER_MARGIN_SECONDS,
    held,
    metric,
    wait_for,
)

FORWARD_SAMPLES = int(os.environ.get("CALLBRIDGE_TEST_FORWARD_SAMPLES", "200"))


class Cluster(Nodes):
    """Three nodes on the test's database and the bus (bench/_cluster_nodes.py starts them)."""

    def __init__(self, database_url: str, nats_url: str, tmp_path: Path) -> None:
        super().__init__(
            database_url,
            tmp_path,
            extra={"CALLBRIDGE_BUS_URL": nats_url, "CALLBRIDGE_FORWARD_TIMEOUT_SECONDS": "5"},
            lease_seconds=LEASE_SECONDS,
            start_seconds=START_SECONDS,
            stop_seconds=DEADLINE_SECONDS,
        )


@pytest.fixture
def cluster(database_url: str, nats_url: str, tmp_path: Path) -> Iterator[Cluster]:
    found = Cluster(database_url, nats_url, tmp_path)
    try:
        yield found
    finally:
        found.stop_all()


def set_up_tenant(cluster: Cluster, *, chat: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """The tenant `acme` (queue `sales`, with `chat` also the chat queue `support`; agent `agent1` in them,
    signed in) set up through node A alone, then the three nodes started: (the PBX's headers, the agent's
    headers)."""
    engine = make_engine(cluster.database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", PASSWORD)
    cluster.start(0)
    with httpx.Client(base_url=cluster.urls[0], timeout=10) as http:
        token = http.post("/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD})
        admin = {"Authorization": f"Bearer {token.json()['token']}"}
        assert http.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=admin).status_code == 201
        wait_for(lambda: "acme" in held(cluster.urls[0]), "node A to take the new tenant")
        queue = {"id": "sales", "name": "Sales", "channel": "phone", "offer_timeout_seconds": 600}
        assert http.post("/api/v1/tenants/acme/queues", json=queue, headers=admin).status_code == 201
        if chat:
            support = {"id": "support", "name": "Support", "channel": "chat", "offer_timeout_seconds": 600}
            assert http.post("/api/v1/tenants/acme/queues", json=support, headers=admin).status_code == 201
        queue_ids = ["sales", "support"] if chat else ["sales"]
        agent = {"id": "agent1", "email": "agent1@acme.example", "display_name": "Agent 1", "queue_ids": queue_ids}
        assert http.post("/api/v1/tenants/acme/agents", json=agent, headers=admin).status_code == 201
        key = http.post("/api/v1/tenants/acme/api-keys", json={"name": "pbx"}, headers=admin).json()["secret"]
    cluster.stop(0)  # hands the tenant over; it loads the agent as signed in below when taken again
    with engine.begin() as connection:  # what single sign-on does, without an identity provider
        connection.execute(update(agents).values(presence="break", status="break"))
    session = create_session(engine, "agent", "agent1", "acme", time.time())
    engine.dispose()
    for n in range(3):
        cluster.start(n)
    wait_for(lambda: cluster.holder("acme") is not None, "a node to take the tenant")
    for url in cluster.urls:
        wait_for(lambda url=url: len(httpx.get(f"{url}/readyz", timeout=2).json()["cluster"]["nodes"]) == 3, "3 nodes")
    return {"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {session}"}


def holder_and_others(cluster: Cluster, agent: dict[str, str]) -> tuple[str, str, str]:
    """The URLs of the node holding `acme` and of the two others, once each of those reaches the holder (a
    non-holder may only learn where the tenant is on its next lease round)."""
    holder = cluster.holder("acme")
    assert holder is not None
    x, y = (cluster.urls[n] for n in range(3) if n != holder)
    for url in (x, y):
        wait_for(
            lambda url=url: httpx.get(f"{url}/api/v1/me", headers=agent, timeout=10).status_code == 200,
            "a non-holder to reach the holder",
            LEASE_SECONDS * 5,
        )
    return cluster.urls[holder], x, y


@pytest.mark.slow
def test_a_tenant_is_served_through_every_node(cluster: Cluster) -> None:
    pbx, agent = set_up_tenant(cluster)
    holder = cluster.holder("acme")
    assert holder is not None
    x, y = (cluster.urls[n] for n in range(3) if n != holder)
    # a non-holder may only learn where the tenant is on its next lease round
    wait_for(
        lambda: httpx.get(f"{x}/api/v1/me", headers=agent, timeout=10).status_code == 200,
        "node X to reach the holder",
        LEASE_SECONDS * 5,
    )
    wait_for(
        lambda: httpx.get(f"{y}/api/v1/me", headers=agent, timeout=10).status_code == 200,
        "node Y to reach the holder",
        LEASE_SECONDS * 5,
    )

    assert httpx.get(f"{x}/readyz", timeout=10).json()["cluster"]["bus"]["connected"] is True
    status = httpx.put(f"{x}/api/v1/me/status", json={"status": "available"}, headers=agent, timeout=10)
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "available"

    call = {"id": "call1", "queue_id": "sales", "channel": "phone", "from_address": "+14155550100"}
    created = httpx.post(f"{y}/api/v1/interactions", json=call, headers=pbx, timeout=10)
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "offered"
    assert created.json()["agent_id"] == "agent1"
    again = httpx.post(f"{x}/api/v1/interactions", json=call, headers=pbx, timeout=10)
    assert again.status_code == 409, "the holder's refusal comes back as it is"
    assert again.json()["field"] == "id"
    wrong_queue = httpx.post(f"{x}/api/v1/interactions", json={**call, "id": "c9", "queue_id": "no"}, headers=pbx)
    assert wrong_queue.status_code == 422
    assert wrong_queue.json()["field"] == "queue_id"

    accepted = httpx.post(f"{x}/api/v1/me/offers/call1/accept", headers=agent, timeout=10)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "connected"
    assert httpx.post(f"{y}/api/v1/me/offers/call1/accept", headers=agent, timeout=10).status_code == 409
    me = httpx.get(f"{y}/api/v1/me", headers=agent, timeout=10).json()
    assert me["agents"]["agent1"]["status"] == "busy"
    assert "call1" in me["interactions"]

    ended = httpx.post(f"{y}/api/v1/interactions/call1/end", json={"reason": "hangup"}, headers=pbx, timeout=10)
    assert ended.json()["state"] == "wrap_up"
    done = httpx.post(
        f"{x}/api/v1/me/interactions/call1/complete", json={"disposition": "sold", "notes": ""}, headers=agent
    )
    assert done.status_code == 204, done.text
    final = httpx.get(f"{y}/api/v1/interactions/call1", headers=pbx, timeout=10).json()
    assert final["state"] == "completed"
    assert final["disposition"] == "sold"
    assert metric(x, 'callbridge_forwarded_total{outcome="answered"}') >= 3
    assert metric(x, 'callbridge_forwarded_total{outcome="refused"}') >= 1

    # the cost of a hop: the same read on the holder and through another node, one client, alternating
    here, there = [], []
    holder_url = cluster.urls[holder]
    with httpx.Client(timeout=10, headers=agent) as http:
        for _ in range(FORWARD_SAMPLES):
            for base, into in ((holder_url, here), (x, there)):
                started = time.perf_counter()
                assert http.get(f"{base}/api/v1/me").status_code == 200
                into.append((time.perf_counter() - started) * 1000)

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1]

    print(  # noqa: T201
        f"\nGET /me on the holder p50 {pct(here, 50):.2f} ms p99 {pct(here, 99):.2f} ms; "
        f"through another node p50 {pct(there, 50):.2f} ms p99 {pct(there, 99):.2f} ms"
    )

    # a Callbridge administrator sees, on any node, the three nodes and which one routes the tenant
    token = httpx.post(
        f"{x}/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD}, timeout=10
    ).json()["token"]
    page = httpx.get(f"{x}/admin/", cookies={SESSION_COOKIE: token}, timeout=10)
    assert page.status_code == 200, page.text
    rows = {name: row for row in page.text.split("<tr>") for name in cluster.names if f"<td>{name}</td>" in row}
    assert set(rows) == set(cluster.names), "every live node is listed"
    assert 'href="/admin/acme/"' in rows[cluster.names[holder]], "the tenant is shown under its holder"
    assert all('href="/admin/acme/"' not in rows[cluster.names[n]] for n in range(3) if n != holder)
    assert "Not routed by any node" not in page.text


def open_console(base: str, agent: dict[str, str]) -> tuple[ClientConnection, dict[str, Any]]:
    """An agent's console WebSocket on one node: (the connection, its snapshot)."""
    ticket = httpx.post(f"{base}/api/v1/realtime/tickets", headers=agent, timeout=10)
    assert ticket.status_code == 201, ticket.text
    ws = connect(
        f"ws{base.removeprefix('http')}/api/v1/realtime?ticket={ticket.json()['ticket']}", open_timeout=10, legacy=True
    )
    init = json.loads(ws.recv(timeout=DEADLINE_SECONDS))
    assert init["type"] == "init", init
    return ws, init["snapshot"]


def events_until(ws: ClientConnection, done: Any, what: str) -> list[dict[str, Any]]:
    """The events a console receives until `done(events)` is true."""
    events: list[dict[str, Any]] = []
    end = time.monotonic() + DEADLINE_SECONDS
    while not done(events):
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {what}; got {events}")
        frame = json.loads(ws.recv(timeout=left))
        if frame["type"] == "event":
            events.append(frame)
    return events


def about(events: list[dict[str, Any]], interaction_id: str, state: str) -> bool:
    return any(
        e["event"]["type"] == "interaction.changed"
        and e["event"]["interaction"]["id"] == interaction_id
        and e["event"]["interaction"]["state"] == state
        for e in events
    )


@pytest.mark.slow
def test_consoles_on_every_node_see_the_tenants_events_in_order(cluster: Cluster) -> None:
    pbx, agent = set_up_tenant(cluster)
    holder = cluster.holder("acme")
    assert holder is not None
    x, y = (cluster.urls[n] for n in range(3) if n != holder)
    wait_for(lambda: httpx.get(f"{x}/api/v1/me", headers=agent, timeout=10).status_code == 200, "X to reach the holder")
    wait_for(lambda: httpx.get(f"{y}/api/v1/me", headers=agent, timeout=10).status_code == 200, "Y to reach the holder")
    on_x, snapshot_x = open_console(x, agent)
    on_holder, _ = open_console(cluster.urls[holder], agent)
    try:
        assert snapshot_x["me"] == "agent1"
        assert httpx.put(f"{y}/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
        call = {"id": "call1", "queue_id": "sales", "channel": "phone"}
        assert httpx.post(f"{y}/api/v1/interactions", json=call, headers=pbx, timeout=10).status_code == 201
        assert httpx.post(f"{y}/api/v1/me/offers/call1/accept", headers=agent, timeout=10).status_code == 200
        seen_x = events_until(on_x, lambda es: about(es, "call1", "connected"), "X's console to see call1 connected")
        seen_h = events_until(
            on_holder, lambda es: about(es, "call1", "connected"), "the holder's console to see call1 connected"
        )
        assert [e["event"] for e in seen_x] == [e["event"] for e in seen_h], "the same events, in the same order"
        assert [e["seq"] for e in seen_x] == list(range(1, len(seen_x) + 1)), "no gap, no repeat"
        on_x.send(json.dumps({"id": 1, "type": "ping"}))  # a console on X keeps its agent alive on the holder
        frame = json.loads(on_x.recv(timeout=DEADLINE_SECONDS))
        while frame["type"] == "event":  # digests may come first
            frame = json.loads(on_x.recv(timeout=DEADLINE_SECONDS))
        assert frame["result"] == {"pong": True}
    finally:
        on_x.close()
        on_holder.close()


@pytest.mark.slow
def test_killing_the_holder_mid_traffic_loses_nothing_and_applies_nothing_twice(cluster: Cluster) -> None:
    pbx, agent = set_up_tenant(cluster)
    holder = cluster.holder("acme")
    assert holder is not None
    survivors = [cluster.urls[n] for n in range(3) if n != holder]
    kill_the_holder_mid_traffic(cluster, pbx, agent, survivors, survivors, closed_with=4011)


def kill_the_holder_mid_traffic(
    cluster: Cluster,
    pbx: dict[str, str],
    agent: dict[str, str],
    entries: list[str],
    consoles: list[str],
    closed_with: int | None = None,
) -> None:
    """Calls arrive through `entries` (nodes, or a balancer) and a console is open on `consoles[0]` while the
    holder is killed: every acknowledged call is stored once, and the console reconnects through
    `consoles[-1]`."""
    holder = cluster.holder("acme")
    assert holder is not None
    for base in {*entries, *consoles}:
        wait_for(
            lambda base=base: httpx.get(f"{base}/api/v1/me", headers=agent, timeout=10).status_code == 200,
            "every entry to reach the holder",
        )
    console, _ = open_console(consoles[0], agent)
    acknowledged: list[str] = []
    answers: dict[int, int] = {}
    stop = threading.Event()

    def traffic() -> None:
        # a PBX: each call is retried with its own id until it has a definite answer
        with httpx.Client(timeout=30, headers=pbx) as http:
            n = 0
            while not stop.is_set():
                n += 1
                call_id = f"call{n}"
                base = entries[n % len(entries)]
                end = time.monotonic() + LEASE_SECONDS + TAKEOVER_MARGIN_SECONDS + DEADLINE_SECONDS
                while time.monotonic() < end:
                    body = {"id": call_id, "queue_id": "sales", "channel": "phone"}
                    try:
                        answer = http.post(f"{base}/api/v1/interactions", json=body)
                    except httpx.HTTPError:
                        continue
                    answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
                    if answer.status_code == 201 or (answer.status_code == 409 and answer.json()["field"] == "id"):
                        acknowledged.append(call_id)  # 409 on a retry: the first try was applied
                        break
                    # the holder is gone and the lease not yet taken (503), or the balancer lost the node
                    # mid-request (502): try again shortly
                    assert answer.status_code in (502, 503, 504), answer.text
                    time.sleep(0.05)
                else:
                    raise AssertionError(f"{call_id} never got a definite answer")

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        wait_for(lambda: len(acknowledged) >= 20, "traffic to flow")
        process = cluster.processes[holder]
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_at = time.monotonic()
        cluster.processes[holder] = None
        before = len(acknowledged)
        wait_for(
            lambda: cluster.holder("acme") is not None,
            "another node to take the tenant",
            LEASE_SECONDS + TAKEOVER_MARGIN_SECONDS,
        )
        taken_after = time.monotonic() - killed_at
        wait_for(lambda: len(acknowledged) >= before + 20, "traffic to flow again", DEADLINE_SECONDS)
        flowing_after = time.monotonic() - killed_at
    finally:
        stop.set()
        sender.join(timeout=DEADLINE_SECONDS * 3)
    print(  # noqa: T201
        f"\nkill -9 of the holder: taken over after {taken_after:.2f} s, requests flowing again after "
        f"{flowing_after:.2f} s (lease {LEASE_SECONDS} s); answers {answers}"
    )
    # the console was told to reconnect (the tenant's holder changed, or its node died) and gets a fresh snapshot
    with pytest.raises(ConnectionClosed) as closed:
        events_until(console, lambda _es: False, "the console to be closed")
    if closed_with is not None:
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == closed_with
    reconnected, snapshot = open_console(consoles[-1], agent)
    reconnected.close()
    assert snapshot["me"] == "agent1"

    engine = make_engine(cluster.database_url)
    try:
        with engine.connect() as connection:
            stored = set(connection.execute(select(interactions.c.id)).scalars())
            created = dict(
                connection.execute(
                    select(interaction_events.c.interaction_id, func.count())
                    .where(interaction_events.c.type == "created")
                    .group_by(interaction_events.c.interaction_id)
                ).all()
            )
    finally:
        engine.dispose()
    assert len(set(acknowledged)) == len(acknowledged)
    assert set(acknowledged) <= stored, "every acknowledged call is there"
    assert all(count == 1 for count in created.values()), "none was applied twice"
    assert stored - set(acknowledged) <= {f"call{len(acknowledged) + 1}"}, "nothing unasked for"


# shorter than the principal cache (5 s), so only the bus can have made the other nodes forget
FORGET_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_FORGET_SECONDS", "3.5"))


@pytest.mark.slow
def test_tickets_and_revocations_hold_on_every_node(cluster: Cluster) -> None:
    pbx, agent = set_up_tenant(cluster)
    a, b, c = cluster.urls
    # a ticket issued by one node opens the WebSocket on another, once
    ticket = httpx.post(f"{a}/api/v1/realtime/tickets", headers=agent, timeout=10).json()["ticket"]
    with connect(f"ws{b.removeprefix('http')}/api/v1/realtime?ticket={ticket}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE_SECONDS))["type"] == "init"
    with pytest.raises(InvalidStatus) as refused:  # closed before it is accepted: the handshake fails
        connect(f"ws{c.removeprefix('http')}/api/v1/realtime?ticket={ticket}", open_timeout=10)
    assert refused.value.response.status_code == 403

    # revoking an API key on one node: every node refuses it at once (not when its cache runs out)
    with httpx.Client(timeout=10) as http:
        token = http.post(f"{a}/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD})
        admin = {"Authorization": f"Bearer {token.json()['token']}"}
        keys = http.get(f"{a}/api/v1/tenants/acme/api-keys", headers=admin).json()
        key_id = (keys["api_keys"] if isinstance(keys, dict) else keys)[0]["id"]
        for base in (b, c):
            assert http.get(f"{base}/api/v1/interactions/nothing", headers=pbx).status_code == 404  # remembered now
        remembered_at = time.monotonic()
        assert http.delete(f"{a}/api/v1/tenants/acme/api-keys/{key_id}", headers=admin).status_code == 204
        for base in (b, c):
            wait_for(
                lambda base=base: http.get(f"{base}/api/v1/interactions/nothing", headers=pbx).status_code == 401,
                f"{base} to refuse the revoked key",
                FORGET_SECONDS - (time.monotonic() - remembered_at),
            )
