"""Cluster nodes and their load balancer as processes: `callbridge serve` with CALLBRIDGE_CLUSTER_ENABLED on one
PostgreSQL database, and HAProxy (Debian's package) in front of them, configured as docs/deploy.md runs it.

Shared by `python -m bench cluster` and the tests of tests/integration/cluster, so both start nodes and the
balancer the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

SECRET_KEY = "the-same-secret-on-every-node-of-this-cluster"  # noqa: S105 - throw-away nodes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_node(
    database_url: str,
    name: str,
    port: int,
    data_dir: Path,
    extra: dict[str, str] | None = None,
    *,
    lease_seconds: float,
    start_seconds: float,
) -> subprocess.Popen[bytes]:
    """Starts one node and waits until its /readyz answers 200 (its log: data_dir/server.log)."""
    env = {
        **os.environ,
        "CALLBRIDGE_DATABASE_URL": database_url,
        "CALLBRIDGE_CLUSTER_ENABLED": "true",
        "CALLBRIDGE_NODE_ID": name,
        "CALLBRIDGE_LEASE_SECONDS": str(lease_seconds),
        "CALLBRIDGE_SECRET_KEY": SECRET_KEY,
        "CALLBRIDGE_DATA_DIR": str(data_dir),
        "CALLBRIDGE_LOG_LEVEL": "WARNING",
        **(extra or {}),
    }
    log = data_dir / "server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "callbridge", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=output,
        )
    deadline = time.monotonic() + start_seconds
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"node {name} did not start within {start_seconds} s: {log.read_text()}")


def stop_node(process: subprocess.Popen[bytes], *, kill: bool = False, timeout: float = 30) -> None:
    """SIGTERM (the node hands its tenants over) or, with `kill`, SIGKILL; SIGKILL after `timeout`."""
    if process.poll() is not None:
        return
    if kill:
        process.kill()
    else:
        process.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def held(base: str) -> dict[str, Any]:
    """The tenants a node holds, from its /readyz."""
    tenants: dict[str, Any] = httpx.get(f"{base}/readyz", timeout=2).json()["cluster"]["tenants"]
    return tenants


class Nodes:
    """`count` nodes on one database, each on its own loopback port and data folder under `workdir`,
    started and stopped one by one. `extra` (environment) applies to nodes started after it changes."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        count: int = 3,
        prefix: str = "node",
        extra: dict[str, str] | None = None,
        lease_seconds: float,
        start_seconds: float,
        stop_seconds: float,
    ) -> None:
        suffix = uuid.uuid4().hex[:6]  # the bus may be shared: names unique to this run
        self.database_url = database_url
        self.workdir = workdir
        self.names = [f"{prefix}-{chr(ord('a') + n)}-{suffix}" for n in range(count)]
        self.ports = [free_port() for _ in self.names]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.extra = dict(extra or {})
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * count
        self.lease_seconds = lease_seconds
        self.start_seconds = start_seconds
        self.stop_seconds = stop_seconds

    def start(self, n: int) -> None:
        self.processes[n] = start_node(
            self.database_url,
            self.names[n],
            self.ports[n],
            self.workdir / self.names[n],
            self.extra,
            lease_seconds=self.lease_seconds,
            start_seconds=self.start_seconds,
        )

    def stop(self, n: int, *, kill: bool = False) -> None:
        process = self.processes[n]
        if process is not None:
            stop_node(process, kill=kill, timeout=self.stop_seconds)
            self.processes[n] = None

    def stop_all(self) -> None:
        for n in range(len(self.processes)):
            self.stop(n)

    def running(self) -> list[int]:
        return [n for n, p in enumerate(self.processes) if p is not None and p.poll() is None]

    def holder(self, tenant_id: str) -> int | None:
        """The running node whose /readyz lists the tenant, if any."""
        for n in self.running():
            try:
                if tenant_id in held(self.urls[n]):
                    return n
            except (httpx.HTTPError, ValueError, KeyError):
                continue
        return None


HAPROXY_CONFIG = """
global
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout check 5s
    retries 2
    option redispatch

frontend callbridge
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""


def haproxy_binary() -> str | None:
    """Debian's haproxy (apt-get install haproxy; scripts/install-cluster-services), if installed."""
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


@contextlib.contextmanager
def balancer(
    binary: str,
    nodes: Nodes,
    workdir: Path,
    *,
    only: list[int] | None = None,
    check: str = "inter 500 fall 2 rise 1",
    stop_seconds: float = 30,
) -> Iterator[tuple[str, int]]:
    """HAProxy in front of the nodes (round robin, health-checked on /readyz as `check` says; `only`: these
    nodes, by index): yields (its URL, its pid). A node slow to answer its check (a loaded machine) stays in
    for up to `timeout check`; one that refuses connections (killed) is out after `fall` checks."""
    port = free_port()
    servers = "\n".join(
        f"    server {nodes.names[n]} 127.0.0.1:{nodes.ports[n]} check {check}"
        for n in (only if only is not None else range(len(nodes.names)))
    )
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"haproxy-{port}.cfg"
    config.write_text(HAPROXY_CONFIG.format(port=port, servers=servers))
    with (workdir / f"haproxy-{port}.log").open("wb") as log:
        process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=log)
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
