"""Brute-force protection of the administrators' password sign-in (API and page): repeated wrong passwords
make an account, or an address, wait longer before each new try; never for good; the counts are in the
database. Time is a ManualClock: nothing here waits."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from callbridge.auth.credentials import create_admin_user
from callbridge.auth.login_throttle import ThrottlePolicy
from callbridge.config import Settings
from callbridge.services.clock import ManualClock
from callbridge.store.database import make_engine, upgrade
from callbridge.web.app import create_app
from callbridge_crm import admin as crm_admin
from callbridge_crm.app import create_app as create_crm
from callbridge_crm.config import CrmSettings

ADMIN, PASSWORD = "root@example.com", "correct horse battery"
API = "/api/v1/auth/admin-sessions"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'callbridge.db'}")
    upgrade(engine)
    create_admin_user(engine, ADMIN, PASSWORD)
    create_admin_user(engine, "other@example.com", PASSWORD)
    yield engine
    engine.dispose()


@contextmanager
def callbridge(engine: Engine, clock: ManualClock, tmp_path: Path, **settings: Any) -> Iterator[TestClient]:
    settings = Settings(database_url=str(engine.url), data_dir=tmp_path, **settings)
    with TestClient(create_app(settings, engine=engine, clock=clock)) as client:
        yield client


def api_sign_in(client: TestClient, password: str, email: str = ADMIN) -> httpx.Response:
    return client.post(API, json={"email": email, "password": password})


def test_twenty_wrong_passwords_then_the_right_one_is_refused_until_the_wait_is_over(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    with caplog.at_level(logging.WARNING), callbridge(engine, clock, tmp_path) as client:
        wrong = [api_sign_in(client, f"guess {n}").status_code for n in range(20)]
        right = api_sign_in(client, PASSWORD)
    assert wrong == [401] * 5 + [429] * 15  # the fifth failure starts the wait
    assert right.status_code == 429
    assert right.json()["error"] == "too_many_requests"
    assert "try again in 1 seconds" in right.json()["message"]
    assert right.headers["Retry-After"] == "1"
    assert any("password sign-ins throttled" in r.getMessage() for r in caplog.records)

    clock.advance(1.01)
    with callbridge(engine, clock, tmp_path) as client:  # a restart forgives nothing, and forgets nothing good
        assert api_sign_in(client, PASSWORD).status_code == 201
        # the success cleared the count: five more wrong passwords before any wait
        assert [api_sign_in(client, "guess").status_code for _ in range(5)] == [401] * 5
        assert api_sign_in(client, PASSWORD).status_code == 429


def test_each_further_failure_doubles_the_wait_up_to_the_cap(engine: Engine, tmp_path: Path) -> None:
    clock = ManualClock()
    waits = []
    with callbridge(engine, clock, tmp_path, login_delay_seconds=10, login_max_delay_seconds=60) as client:
        for _ in range(4):
            assert api_sign_in(client, "guess").status_code == 401
        for _ in range(5):
            assert api_sign_in(client, "guess").status_code == 401  # counted: the account was not waiting
            refused = api_sign_in(client, PASSWORD)
            assert refused.status_code == 429
            waits.append(int(refused.headers["Retry-After"]))
            clock.advance(waits[-1])
        assert api_sign_in(client, PASSWORD).status_code == 201
    assert waits == [10, 20, 40, 60, 60]


def test_one_address_trying_many_accounts_is_slowed_down(engine: Engine, tmp_path: Path) -> None:
    clock = ManualClock()
    with callbridge(engine, clock, tmp_path, login_address_failures=3) as client:
        spray = [api_sign_in(client, "guess", f"user{n}@example.com").status_code for n in range(3)]
        other = api_sign_in(client, PASSWORD, "other@example.com")
        assert spray == [401, 401, 401]
        assert other.status_code == 429  # the address waits, whichever account it names
        clock.advance(1.01)
        assert api_sign_in(client, PASSWORD, "other@example.com").status_code == 201


def page_sign_in(client: TestClient, password: str) -> httpx.Response:
    form = client.get("/admin/login").text
    field = re.search(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', form)
    assert field is not None
    body = {field.group(1): field.group(2), "email": ADMIN, "password": password, "next": "/admin/"}
    return client.post("/admin/login", data=body, follow_redirects=False)


def test_the_sign_in_page_says_when_to_try_again_and_admins_see_the_failures(engine: Engine, tmp_path: Path) -> None:
    clock = ManualClock()
    with callbridge(engine, clock, tmp_path, login_delay_seconds=90) as client:
        assert [page_sign_in(client, "guess").status_code for _ in range(5)] == [401] * 5
        refused = page_sign_in(client, PASSWORD)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "90"
        assert "Too many failed sign-ins: try again in 90 seconds." in refused.text
        # the API and the page count together
        assert api_sign_in(client, PASSWORD).status_code == 429

        clock.advance(90)
        assert page_sign_in(client, "guess").status_code == 401  # the sixth failure: a longer wait
        clock.advance(180)
        signed_in = page_sign_in(client, PASSWORD)
        assert signed_in.status_code == 303
        api_sign_in(client, "guess", "intruder@example.com")
        tenants = client.get("/admin/")  # the session cookie from the sign-in
        assert tenants.status_code == 200
        assert tenants.text.count('id="failed-sign-ins"') == 1, "listed once, in the page, not in its title"
        assert "<title>Tenants" in tenants.text
        assert "<title><section" not in tenants.text
        listed = tenants.text.split('id="failed-sign-ins"')[1].split("</section>")[0]
        assert "intruder@example.com" in listed
        assert "testclient" in listed  # the address it came from
        assert ADMIN not in listed  # cleared by the successful sign-in


def test_the_policy_never_waits_longer_than_its_cap() -> None:
    policy = ThrottlePolicy(account_failures=5, base_seconds=1, max_seconds=300)
    assert [policy.delay(n, 5) for n in (1, 4, 5, 6, 7, 13, 14, 10_000)] == [0, 0, 1, 2, 4, 256, 300, 300]


# ------------------------------------------------------------------------------------- the built-in CRM


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def crm(tmp_path: Path, clock: Clock, **settings: Any) -> Iterator[FlaskClient]:
    database_url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    if not (tmp_path / "crm.sqlite3").exists():
        crm_admin.create_user(database_url, email="abe@example.com", name="Abe Agent", password=PASSWORD)
    app = create_crm(CrmSettings(database_url=database_url, **settings), clock=clock)
    try:
        yield app.test_client()
    finally:
        app.extensions["callbridge_crm"].engine.dispose()


def crm_sign_in(
    client: FlaskClient, password: str, email: str = "abe@example.com", forwarded_for: str = ""
) -> TestResponse:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    body = {"email": email, "password": password, "csrf_token": token.group(1), "next": "/"}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/login", data=body, headers=headers)


def test_the_crm_refuses_the_right_password_after_twenty_wrong_ones_until_the_wait_is_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    with caplog.at_level(logging.WARNING), crm(tmp_path, clock) as client:
        wrong = [crm_sign_in(client, f"guess {n}") for n in range(20)]
        right = crm_sign_in(client, PASSWORD)
    assert [r.status_code for r in wrong] == [401] * 5 + [429] * 15
    assert "try again in 1 seconds" in wrong[4].get_data(as_text=True)  # said with the failure that starts it
    assert right.status_code == 429
    assert right.headers["Retry-After"] == "1"
    assert "Too many failed sign-ins: try again in 1 seconds." in right.get_data(as_text=True)
    assert any("CRM sign-ins throttled: account:abe@example.com" in r.getMessage() for r in caplog.records)

    clock.now += 1
    with crm(tmp_path, clock) as client:  # kept in the database: a restart changes nothing
        assert crm_sign_in(client, PASSWORD).status_code == 302
        assert [crm_sign_in(client, "guess").status_code for _ in range(5)] == [401] * 5  # the count restarted


def test_the_crm_slows_down_one_address_trying_many_accounts(tmp_path: Path) -> None:
    clock = Clock()
    with crm(tmp_path, clock, login_address_failures=3, login_delay_seconds=30, login_max_delay_seconds=45) as client:
        assert [crm_sign_in(client, "guess", f"u{n}@example.com").status_code for n in range(3)] == [401] * 3
        refused = crm_sign_in(client, PASSWORD)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "30"
        clock.now += 30
        assert crm_sign_in(client, "guess", "u9@example.com").status_code == 401  # the 4th: 60 s, capped at 45
        assert crm_sign_in(client, PASSWORD).headers["Retry-After"] == "45"
        clock.now += 45
        assert crm_sign_in(client, PASSWORD).status_code == 302


def test_the_crm_believes_forwarded_addresses_only_from_its_configured_proxies(tmp_path: Path) -> None:
    clock = Clock()
    with crm(tmp_path, clock, login_address_failures=2) as client:  # no proxy configured: the header is ignored
        assert crm_sign_in(client, "guess", "u1@example.com", "203.0.113.1").status_code == 401
        assert crm_sign_in(client, "guess", "u2@example.com", "203.0.113.2").status_code == 401
        assert crm_sign_in(client, PASSWORD, forwarded_for="203.0.113.3").status_code == 429
    clock.now += 3600
    with crm(tmp_path, clock, login_address_failures=2, trusted_proxies="127.0.0.1/32") as client:
        assert crm_sign_in(client, "guess", "u1@example.com", "203.0.113.1").status_code == 401
        assert crm_sign_in(client, "guess", "u2@example.com", "203.0.113.1").status_code == 401
        assert crm_sign_in(client, PASSWORD, forwarded_for="203.0.113.1").status_code == 429
        # a client cannot prepend an address: the proxy's own entry, the rightmost, is the one that counts
        assert crm_sign_in(client, PASSWORD, forwarded_for="198.51.100.9, 203.0.113.1").status_code == 429
        assert crm_sign_in(client, PASSWORD, forwarded_for="203.0.113.2").status_code == 302


def test_crm_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        CrmSettings(trusted_proxies="*")
