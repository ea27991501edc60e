"""The README's first command works: the demo provisions, starts the built-in CRM, and traffic flows."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from callbridge.store.database import make_engine
from callbridge.store.tables import interactions
from tests.e2e.test_restart import free_port


@pytest.mark.slow
def test_the_demo_routes_live_traffic_to_simulated_agents(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "callbridge", "demo", "--directory", str(tmp_path), "--port", str(port)]
        + ["--duration", "12", "--rate", "600", "--bots", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    launch = None
    deadline = time.time() + 60
    while time.time() < deadline and demo.poll() is None:
        try:
            launch = httpx.get(f"http://127.0.0.1:{port}/sso/login?tenant=demo", timeout=2)
            if launch.status_code == 302:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stdout, stderr = demo.communicate(timeout=120)
    assert demo.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}/docs" in stdout
    assert f"http://localhost:{port + 1}/" in stdout, "the built-in CRM runs on its own origin"
    assert launch is not None
    assert launch.status_code == 302, "the tenant's launch URL signs agents in at the CRM"
    assert launch.headers["location"].startswith(f"http://localhost:{port + 1}/oauth2/authorize?")
    engine = make_engine(f"sqlite:///{tmp_path / 'callbridge.db'}")
    with engine.connect() as connection:
        by_state = dict(
            connection.execute(select(interactions.c.state, func.count()).group_by(interactions.c.state)).all()
        )
    engine.dispose()
    assert sum(by_state.values()) >= 10, by_state
    assert by_state.get("connected", 0) + by_state.get("wrap_up", 0) + by_state.get("completed", 0) >= 1, by_state
    assert (tmp_path / "crm.db").exists()
