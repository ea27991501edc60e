"""Three `callbridge serve` processes behind HAProxy (Debian's package), as docs/deploy.md runs them: clients
know only the balancer's address. Consoles and calls go through it to whichever node it picks; the node
holding the tenant is killed mid-traffic and the balancer's clients carry on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench._cluster_nodes import balancer as run_balancer
from bench._cluster_nodes import haproxy_binary

from tests.conftest import missing_service
from tests.integration.cluster.conftest import DEADLINE_SECONDS
from tests.integration.cluster.test_failover_processes import wait_for
from tests.integration.cluster.test_forwarding_processes import (
    Cluster,
    cluster,  # noqa: F401 - the fixture
    kill_the_holder_mid_traffic,
    open_console,
    set_up_tenant,
)


@pytest.fixture
def balancer(cluster: Cluster, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """HAProxy in front of the cluster's three nodes (round robin, health-checked on /readyz): its URL."""
    binary = haproxy_binary()
    if binary is None:
        missing_service("HAProxy", "apt-get install haproxy (scripts/install-cluster-services)")
    assert binary is not None
    with run_balancer(binary, cluster, tmp_path, stop_seconds=DEADLINE_SECONDS) as (url, _pid):
        yield url


@pytest.mark.slow
def test_clients_of_the_balancer_carry_on_when_the_holder_is_killed(
    cluster: Cluster,  # noqa: F811
    balancer: str,
) -> None:
    pbx, agent = set_up_tenant(cluster)

    def served_through_the_balancer() -> bool:
        return all(httpx.get(f"{balancer}/api/v1/me", headers=agent, timeout=10).status_code == 200 for _ in range(6))

    wait_for(served_through_the_balancer, "every node behind the balancer to serve the tenant")
    started = time.monotonic()
    consoles = [open_console(balancer, agent) for _ in range(3)]  # spread over the nodes by the balancer
    for ws, snapshot in consoles:
        assert snapshot["me"] == "agent1"
        ws.close()
    print(f"\nthree consoles through the balancer in {time.monotonic() - started:.2f} s")  # noqa: T201
    kill_the_holder_mid_traffic(cluster, pbx, agent, [balancer], [balancer])
