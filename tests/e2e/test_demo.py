"""The README's first command works: the demo provisions, starts the built-in CRM, and traffic flows."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from callbridge.store.crm_tables import crm_connections, crm_outbox, crm_settings
from callbridge.store.database import make_engine
from callbridge.store.report_tables import report_agent_teams
from callbridge.store.tables import api_keys, interactions


@pytest.mark.slow
def test_the_demo_routes_live_traffic_to_simulated_agents(tmp_path: Path) -> None:
    port = free_port_pair()
    demo = subprocess.Popen(
        [sys.executable, "-m", "callbridge", "demo", "--directory", str(tmp_path), "--port", str(port)]
        + ["--duration", "12", "--rate", "600", "--bots", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    launch = None
    deadline = time.time() + DEADLINE  # set-up on a loaded machine can take a while
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


def free_port_pair() -> int:
    """A free port whose next one is free too (the demo's built-in CRM listens on port + 1). Taken below the
    kernel's ephemeral range (32768 and up): the CRM binds its port only after seeding, seconds later, and in
    the meantime any outgoing connection on this machine could be given a port from that range."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as first, socket.socket() as second:
            try:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


DEADLINE = float(os.environ.get("CALLBRIDGE_TEST_DEMO_DEADLINE", "180"))


def _start_demo(folder: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "callbridge", "demo", "--directory", str(folder), "--port", str(port)]
        + ["--duration", "600", "--rate", "300", "--bots", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(demo: subprocess.Popen[str]) -> str:
    demo.send_signal(signal.SIGINT)
    stdout, stderr = demo.communicate(timeout=120)
    assert demo.returncode == 0, stderr
    return stdout


def _wait_for(what: str, check: Callable[[], bool], demo: subprocess.Popen[str]) -> None:
    deadline = time.time() + DEADLINE
    while not check():
        if demo.poll() is not None:
            _, stderr = demo.communicate()
            pytest.fail(f"the demo stopped before {what}: {stderr}")
        if time.time() > deadline:
            demo.kill()
            pytest.fail(f"no {what} within {DEADLINE:g} s")
        time.sleep(0.2)


def _count(database_url: str, query: Any) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
    except OperationalError:  # not created yet
        return 0
    finally:
        engine.dispose()


@pytest.mark.slow
def test_the_demo_shows_screen_pop_and_auto_log_with_the_builtin_crm_connected(tmp_path: Path) -> None:
    port = free_port_pair()
    database = f"sqlite:///{tmp_path / 'callbridge.db'}"
    sent = select(func.count()).select_from(crm_outbox).where(crm_outbox.c.status == "sent")
    demo = _start_demo(tmp_path, port)
    _wait_for("activity logged in the CRM", lambda: _count(database, sent) >= 1, demo)
    activities = _count(f"sqlite:///{tmp_path / 'crm.db'}", text("SELECT count(*) FROM activity"))
    assert activities >= 1, "auto log wrote to the built-in CRM"
    stdout = _stop(demo)

    base, crm = f"http://127.0.0.1:{port}", f"http://localhost:{port + 1}"
    assert f"{base}/chat/demo?tenant=demo" in stdout, "the chat page is printed"
    assert f"{crm}/console" in stdout, "where screen pops show"
    assert f"{crm}/activities" in stdout, "where logged activities show"
    engine = make_engine(database)
    with engine.connect() as connection:
        connection_row = connection.execute(select(crm_connections)).one()
        settings = connection.execute(select(crm_settings)).one()
        teams = dict(connection.execute(select(report_agent_teams.c.agent_id, report_agent_teams.c.team)).all())
    engine.dispose()
    assert set(teams) >= {"alex", "sam", "bot1"}, "every demo agent is in a team (the wallboard's Team column)"
    assert (connection_row.tenant_id, connection_row.crm) == ("demo", "builtin_crm")
    assert connection_row.config["base_url"] == crm
    assert connection_row.connected_as == "Callbridge Integration <integration@demo.example>", "connected by Connect"
    assert connection_row.connected_at is not None
    assert settings.screen_pop["enabled"] is True
    assert settings.screen_pop["all_agents"] is True
    assert (settings.auto_log["phone"], settings.auto_log["chat"], settings.auto_log["voicemail"]) == (True,) * 3

    # a restart keeps the connection and leaves one usable API key, the previous one revoked
    demo = _start_demo(tmp_path, port)
    _wait_for("banner", lambda: _count(database, select(func.count()).select_from(api_keys)) >= 2, demo)
    again = _stop(demo)
    assert "Integration API key" in again
    engine = make_engine(database)
    with engine.connect() as connection:
        keys = connection.execute(select(api_keys.c.revoked_at)).all()
        connected = connection.execute(select(crm_connections.c.connected_at)).scalar_one()
    engine.dispose()
    assert len(keys) == 2
    assert [k.revoked_at is None for k in keys].count(True) == 1, "each restart revokes the previous demo key"
    assert connected == connection_row.connected_at, "the restart kept the CRM connection"
