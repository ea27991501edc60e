"""The live wallboard and the reports page in Debian's chromium, against a real server (uvicorn in a
thread): a status change reaches the supervisor's page within a second."""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from callbridge.auth.credentials import create_admin_user, create_session
from callbridge.config import Settings
from callbridge.domain import commands as cmd
from callbridge.store.database import make_engine, upgrade
from callbridge.web.app import create_app
from callbridge.web.server import server_config

pytestmark = pytest.mark.browser


@dataclass
class Site:
    base_url: str
    engine: Engine
    app: Any
    loop: asyncio.AbstractEventLoop
    admin: dict[str, str]

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def session(self, agent_id: str) -> str:
        node = self.app.state.services.node
        self.run(node.execute("acme", cmd.SignIn(agent_id)))
        return create_session(self.engine, "agent", agent_id, "acme", time.time())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("wallboard")
    url = f"sqlite:///{folder / 'callbridge.db'}"
    engine = make_engine(url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", "correct horse battery")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(Settings(database_url=url, data_dir=Path(folder), public_url=base), engine=engine)
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    token = httpx.post(
        f"{base}/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": "correct horse battery"}
    ).json()["token"]
    admin = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=admin) as c:
        assert c.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}).status_code == 201
        for queue_id, channel in (("sales", "phone"), ("support", "chat")):
            body = {"id": queue_id, "name": queue_id.title(), "channel": channel}
            assert c.post("/api/v1/tenants/acme/queues", json=body).status_code == 201
        for agent_id, roles in (("agent1", ["agent"]), ("boss", ["agent", "supervisor"])):
            body = {
                "id": agent_id,
                "email": f"{agent_id}@acme.example",
                "display_name": agent_id.title(),
                "roles": roles,
                "queue_ids": ["sales", "support"],
            }
            assert c.post("/api/v1/tenants/acme/agents", json=body).status_code == 201
        assert c.put("/api/v1/tenants/acme/reports/teams/agent1", json={"team": "North"}).status_code == 200
    try:
        yield Site(base, engine, app, loop, admin)
    finally:
        server.should_exit = True
        thread.join(10)
        loop.close()
        engine.dispose()


@pytest.fixture
def supervisor_page(browser: Any, site: Site, artifacts_dir: Path) -> Iterator[Any]:
    context = browser.new_context(base_url=site.base_url, viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "callbridge_session", "value": site.session("boss"), "url": site.base_url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        page.screenshot(path=str(artifacts_dir / "last.png"), full_page=True)
        context.close()
    assert not errors, errors


def test_the_wallboard_follows_a_status_change_within_a_second(supervisor_page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page = supervisor_page
    agent = {"Authorization": f"Bearer {site.session('agent1')}"}
    page.goto("/supervisor/wallboard")
    expect(page.locator("#connection")).to_have_text("Live", timeout=10_000)
    row = page.locator('tr[data-agent="agent1"]')
    expect(row.locator('[data-field="status"]')).to_have_text("Break")
    # statuses and reasons in words, never codes
    expect(row.locator('[data-field="reason"]')).to_have_text("just signed in")
    expect(page.locator('tr[data-queue="sales"] [data-field="available"]')).to_have_text("0")
    started = time.monotonic()
    assert (
        httpx.put(f"{site.base_url}/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200
    )
    expect(row.locator('[data-field="status"]')).to_have_text("Available", timeout=1000)
    expect(page.locator('tr[data-queue="sales"] [data-field="available"]')).to_have_text("1", timeout=1000)
    assert time.monotonic() - started < 1.5
    # a call: offered today goes up on the queue's row
    key = httpx.post(f"{site.base_url}/api/v1/tenants/acme/api-keys", json={"name": "pbx"}, headers=site.admin).json()
    pbx = {"Authorization": f"Bearer {key['secret']}"}
    call = httpx.post(
        f"{site.base_url}/api/v1/interactions", json={"queue_id": "sales", "channel": "phone"}, headers=pbx
    )
    assert call.status_code == 201
    httpx.post(f"{site.base_url}/api/v1/me/offers/{call.json()['id']}/accept", headers=agent)
    expect(page.locator('tr[data-queue="sales"] [data-field="answered"]')).to_have_text("1", timeout=1000)
    expect(row.locator('[data-field="status"]')).to_have_text("Busy", timeout=1000)
    # the team filter hides agents of other teams
    page.select_option("#team-filter", "North")
    expect(page.locator('tr[data-agent="boss"]')).to_have_count(0)
    expect(row).to_have_count(1)


def test_the_reports_page_draws_charts_and_offers_csv(supervisor_page: Any) -> None:
    from playwright.sync_api import expect

    page = supervisor_page
    page.goto("/supervisor/reports?kind=queues")
    expect(page.locator("#result table").first).to_be_visible(timeout=10_000)
    expect(page.locator("#chart-hour .uplot")).to_have_count(1)
    assert "format=csv" in (page.locator("#csv").get_attribute("href") or "")
    page.select_option("#kind", "agents")
    page.click("button[type=submit]")
    expect(page.locator("#result")).to_contain_text("Agent1")


def test_charts_cover_the_period_asked_for_hour_by_hour_and_export_as_csv(supervisor_page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page = supervisor_page
    report = httpx.get(f"{site.base_url}/api/v1/tenants/acme/reports/queues", headers=site.admin).json()
    hours = len(report["all"]["by_hour"])
    assert hours in (23, 24, 25)  # every local hour of today, the quiet ones too
    page.goto("/supervisor/reports?kind=queues")
    hour_chart, day_chart = page.locator("#chart-hour"), page.locator("#chart-day")
    expect(hour_chart).to_have_attribute("data-points", str(hours), timeout=10_000)
    # the x axis runs over the day asked for, not years around a single point
    assert float(hour_chart.get_attribute("data-x-min") or 0) == report["start"]
    assert float(hour_chart.get_attribute("data-x-max") or 0) == report["end"]
    expect(day_chart).to_have_attribute("data-points", "1")
    assert float(day_chart.get_attribute("data-x-min") or 0) == report["start"]
    # each chart downloads as CSV: every queue's hours, then all queues together
    href = page.locator("#csv-hour").get_attribute("href") or ""
    assert "group=hour" in href
    exported = page.request.get(href)
    assert exported.ok
    rows = list(csv.DictReader(io.StringIO(exported.text())))
    assert len(rows) == 3 * hours
    assert {r["queue"] for r in rows} == {"Sales", "Support", "All queues"}
    day_rows = list(
        csv.DictReader(io.StringIO(page.request.get(page.locator("#csv-day").get_attribute("href") or "").text()))
    )
    assert [r["queue"] for r in day_rows] == ["Sales", "Support", "All queues"]


def test_report_filters_are_pickers_of_names(supervisor_page: Any) -> None:
    from playwright.sync_api import expect

    page = supervisor_page
    page.goto("/supervisor/reports?kind=queues")
    expect(page.locator("#queue_id option")).to_have_text(["All queues", "Sales", "Support"], timeout=10_000)
    page.select_option("#queue_id", label="Sales")
    page.click("button[type=submit]")
    expect(page.locator("#result table").first).to_contain_text("Sales")
    expect(page.locator("#result table").first).not_to_contain_text("Support")
    assert "queue_id=sales" in (page.locator("#csv").get_attribute("href") or "")
    page.select_option("#kind", "agents")
    expect(page.locator("#team option")).to_have_text(["All teams", "North"])
    page.select_option("#kind", "timeline")
    expect(page.locator("#agent_id option")).to_have_text(["All agents", "Agent1", "Boss"])
    page.click("button[type=submit]")
    expect(page.locator("#message")).to_have_text("Choose the agent whose day to show.")
    page.select_option("#agent_id", label="Agent1")
    page.click("button[type=submit]")
    expect(page.locator("#result h2").first).to_contain_text("Agent1")
    # reasons in words, not codes
    expect(page.locator("#result table").first).to_contain_text("just signed in")
    expect(page.locator("#result table").first).not_to_contain_text("signed_in")


def test_agents_cannot_open_the_supervisor_pages(browser: Any, site: Site) -> None:
    context = browser.new_context(base_url=site.base_url)
    context.add_cookies([{"name": "callbridge_session", "value": site.session("agent1"), "url": site.base_url}])
    page = context.new_page()
    try:
        for path in ("/supervisor/wallboard", "/supervisor/reports"):
            assert page.goto(path).status == 403
    finally:
        context.close()


def test_thresholds_set_on_the_wallboard_turn_tiles_amber_and_red_and_full_screen_is_large(
    supervisor_page: Any, site: Site, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    page = supervisor_page
    with httpx.Client(base_url=site.base_url, headers=site.admin) as c:
        body = {"id": "billing", "name": "Billing", "channel": "phone"}
        assert c.post("/api/v1/tenants/acme/queues", json=body).status_code == 201
        key = c.post("/api/v1/tenants/acme/api-keys", json={"name": "pbx2"}).json()
    pbx = {"Authorization": f"Bearer {key['secret']}"}
    page.goto("/supervisor/wallboard")
    expect(page.locator("#connection")).to_have_text("Live", timeout=10_000)
    billing = page.locator('tr[data-queue="billing"]')
    waiting, longest = billing.locator('[data-field="waiting"]'), billing.locator('[data-field="longest"]')
    # a supervisor sets the queue's thresholds in the wallboard's own form
    page.click("#thresholds summary")
    page.select_option("#threshold-queue", "billing")
    page.fill("#waiting_amber", "1")
    page.fill("#waiting_red", "2")
    page.fill("#longest_wait_amber_seconds", "1")
    page.fill("#longest_wait_red_seconds", "3600")
    page.fill("#service_level_amber_percent", "80")
    page.fill("#service_level_red_percent", "90")  # red above amber: refused, naming the rule
    page.click("#thresholds-form button[type=submit]")
    expect(page.locator("#thresholds-message")).to_contain_text("Not saved: the red service level must be at most")
    page.fill("#service_level_red_percent", "50")
    page.click("#thresholds-form button[type=submit]")
    expect(page.locator("#thresholds-message")).to_have_text("Saved for Billing.")
    expect(waiting).to_have_attribute("data-level", "")
    for expected in ("amber", "red"):
        made = httpx.post(
            f"{site.base_url}/api/v1/interactions", json={"queue_id": "billing", "channel": "phone"}, headers=pbx
        )
        assert made.status_code == 201
        expect(waiting).to_have_attribute("data-level", expected, timeout=2000)
    expect(waiting).to_have_class("num level-red")
    expect(longest).to_have_attribute("data-level", "amber", timeout=3000)  # the wait grows past 1 s by itself
    # stored: a fresh page (and the API) knows them
    page.reload()
    expect(page.locator('tr[data-queue="billing"] [data-field="waiting"]')).to_have_attribute(
        "data-level", "red", timeout=10_000
    )
    stored = httpx.get(f"{site.base_url}/api/v1/tenants/acme/reports/thresholds", headers=site.admin).json()
    assert stored["billing"]["waiting_red"] == 2
    assert stored["billing"]["service_level_red_percent"] == 50
    page.screenshot(path=str(artifacts_dir / "thresholds.png"), full_page=True)
    # full screen for a wall display: the board fills the screen in large type
    normal = page.eval_on_selector('tr[data-queue="billing"] td', "td => parseFloat(getComputedStyle(td).fontSize)")
    page.click("#fullscreen")
    page.wait_for_function("document.fullscreenElement && document.fullscreenElement.id === 'wallboard'")
    expect(page.locator("#fullscreen")).to_have_text("Leave full screen")
    large = page.eval_on_selector('tr[data-queue="billing"] td', "td => parseFloat(getComputedStyle(td).fontSize)")
    assert large >= 1.5 * normal
    page.screenshot(path=str(artifacts_dir / "fullscreen.png"))
    page.click("#fullscreen")
    page.wait_for_function("document.fullscreenElement === null")
    expect(page.locator("#fullscreen")).to_have_text("Full screen")


def test_thresholds_api_checks_order_queue_and_role(site: Site) -> None:
    url = f"{site.base_url}/api/v1/tenants/acme/reports/thresholds"
    bad = httpx.put(f"{url}/sales", json={"waiting_amber": 5, "waiting_red": 3}, headers=site.admin)
    assert bad.status_code == 422
    assert bad.json()["field"] == "waiting_red"
    assert httpx.put(f"{url}/nope", json={"waiting_amber": 1}, headers=site.admin).status_code == 404
    agent = {"Authorization": f"Bearer {site.session('agent1')}"}
    assert httpx.put(f"{url}/sales", json={"waiting_amber": 1}, headers=agent).status_code == 403
    boss = {"Authorization": f"Bearer {site.session('boss')}"}
    assert httpx.put(f"{url}/sales", json={"waiting_amber": 4}, headers=boss).json()["waiting_amber"] == 4
    assert httpx.put(f"{url}/sales", json={}, headers=boss).status_code == 200  # all empty: none
    assert "sales" not in httpx.get(url, headers=boss).json()


def test_a_browser_that_is_not_signed_in_is_sent_to_sign_in_and_back(browser: Any, site: Site) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=site.base_url)
    page = context.new_page()
    try:
        answer = page.goto("/supervisor/wallboard?tenant=acme")
        assert answer is not None
        assert answer.status == 200  # a page, not a JSON 401
        assert "/admin/login?next=/supervisor/wallboard" in page.url
        page.fill("#email", "root@example.com")
        page.fill("#password", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_url("**/supervisor/wallboard?tenant=acme")
        expect(page.locator("#connection")).to_have_text("Live", timeout=10_000)
    finally:
        context.close()
