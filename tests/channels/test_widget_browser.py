"""The chat widget in Debian's chromium, on a customer's page served from another origin, chatting with an
agent who uses the REST API."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from callbridge.auth.credentials import create_admin_user
from callbridge.config import Settings
from callbridge.services.agent_sessions import sign_in_agent
from callbridge.store.database import make_engine, upgrade
from callbridge.web.app import create_app
from callbridge.web.deps import Services
from callbridge.web.server import server_config

pytestmark = pytest.mark.browser


@dataclass
class LiveCallbridge:
    url: str
    http: httpx.Client
    admin: dict[str, str]
    services: Services
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)


@pytest.fixture
def callbridge(tmp_path: Path) -> Iterator[LiveCallbridge]:
    database_url = f"sqlite:///{tmp_path / 'callbridge.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", "correct horse battery")
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path), engine=engine)
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=0, log_level="warning"))
    loops: list[asyncio.AbstractEventLoop] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        loops.append(loop)
        loop.run_until_complete(server.serve())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=10) as http:
        login = http.post(
            "/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": "correct horse battery"}
        )
        admin = {"Authorization": f"Bearer {login.json()['token']}"}
        yield LiveCallbridge(url, http, admin, app.state.services, loops[0])
    server.should_exit = True
    thread.join(10)
    engine.dispose()


@pytest.fixture
def customer_site(callbridge: LiveCallbridge) -> Iterator[str]:
    """A shop's page on http://localhost:<port> carrying the widget from http://127.0.0.1:<callbridge port>."""
    page = (
        "<!doctype html><html><head><title>Shop</title>"
        "<style>button { background: hotpink !important; } li { color: red; }</style></head>"
        "<body><h1>Shop</h1>"
        f'<script src="{callbridge.url}/static/app/chat/widget.js" data-tenant="acme" data-queue="web-chat" async>'
        "</script></body></html>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield f"http://localhost:{site.server_address[1]}"
    site.shutdown()
    site.server_close()


def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_customer_chats_with_an_agent_through_the_widget_on_another_site(
    browser: Any, callbridge: LiveCallbridge, customer_site: str, artifacts_dir: Path
) -> None:
    http, admin = callbridge.http, callbridge.admin
    assert http.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=admin).status_code == 201
    queue = {"id": "web-chat", "name": "Web chat", "channel": "chat"}
    assert http.post("/api/v1/tenants/acme/queues", json=queue, headers=admin).status_code == 201
    agent_body = {"id": "ann", "email": "ann@acme.example", "display_name": "Ann Agent", "queue_ids": ["web-chat"]}
    assert http.post("/api/v1/tenants/acme/agents", json=agent_body, headers=admin).status_code == 201
    settings = {"widget_origins": [customer_site], "form_fields": [{"name": "order", "label": "Order number"}]}
    assert http.put("/api/v1/tenants/acme/chat/settings", json=settings, headers=admin).status_code == 200
    svc = callbridge.services
    token = callbridge.run(sign_in_agent(svc.engine, svc.node, svc.clock, "acme", "ann"))
    agent = {"Authorization": f"Bearer {token}"}
    assert http.put("/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200

    context = browser.new_context()
    page = context.new_page()
    page.goto(customer_site)
    page.locator("button.launcher").click()
    page.locator("#cb-name").fill("Ada Lovelace")
    page.locator("#cb-email").fill("ada@example.com")
    page.locator("#cb-order").fill("A-1")
    page.get_by_role("button", name="Start chat").click()
    page.locator(".status", has_text="Waiting for an agent").wait_for()

    def offered() -> str | None:
        mine = http.get("/api/v1/me", headers=agent).json()["interactions"]
        return next((i["id"] for i in mine.values() if i["state"] == "offered"), None)

    chat_id = eventually(offered)
    assert http.post(f"/api/v1/me/offers/{chat_id}/accept", headers=agent).status_code == 200
    page.locator(".status", has_text="You are chatting with Ann Agent").wait_for()

    page.locator("textarea").fill("Hello <b>there</b>")
    page.keyboard.press("Enter")

    def customer_said() -> list[Any]:
        messages = http.get(f"/api/v1/me/chats/{chat_id}/messages", headers=agent).json()["messages"]
        return [m for m in messages if m["sender"] == "customer"]

    said = eventually(customer_said)
    assert said[0]["text"] == "Hello <b>there</b>"
    hostile = '<img src=x onerror="window.__pwned = 1">Hi Ada <script>window.__pwned = 2</script>'
    assert http.post(f"/api/v1/me/chats/{chat_id}/messages", json={"text": hostile}, headers=agent).status_code == 201
    shown = page.locator("li.agent .text")
    shown.wait_for()
    assert shown.text_content() == hostile
    assert page.locator("li.customer .text").text_content() == "Hello <b>there</b>"
    assert page.locator("[data-callbridge-chat] img, [data-callbridge-chat] b").count() == 0
    assert page.evaluate("window.__pwned") is None
    # the agent's console has shown the customer's message: the customer sees it delivered
    http.post(f"/api/v1/me/chats/{chat_id}/delivered", json={"up_to_seq": said[0]["seq"]}, headers=agent)
    page.locator("li.customer .meta", has_text="Delivered").wait_for()
    # the widget read the agent's message: the agent's message is marked delivered
    eventually(
        lambda: http.get(f"/api/v1/me/chats/{chat_id}/messages", headers=agent).json()["messages"][-1]["delivered_at"]
    )
    # the host page's styles do not leak into the widget
    colour = page.locator("button.send").evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(47, 111, 222)"
    page.screenshot(path=str(artifacts_dir / "widget-chat.png"))

    page.get_by_role("button", name="End chat").click()
    state = eventually(
        lambda: http.get("/api/v1/me", headers=agent).json()["interactions"].get(chat_id, {}).get("state") == "wrap_up"
    )
    assert state
    context.close()
