"""The console's browser tests: a real Callbridge (127.0.0.1) and the built-in CRM (localhost, another site)
whose console workspace docks the console as a softphone frame; agents sign in through the CRM's pop-up."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import until_closed
from tests.sso.sso_helpers import Callbridge, Crm, console_frame, sign_in_to_crm

TENANT = "acme"
_numbers = itertools.count(1)


@dataclass
class Site:
    cb: Callbridge
    crm: Crm
    pbx: dict[str, str] = field(default_factory=dict)

    def api(self) -> Any:
        return self.cb.api()


@dataclass
class Agent:
    """An agent of their own queues (so that tests never take each other's offers)."""

    id: str
    email: str
    phone: str
    chat: str
    voicemail: str


def new_agent(site: Site, name: str, offer_timeout: int = 20, wrap_up: int = 120) -> Agent:
    n = next(_numbers)
    agent_id = f"{name}{n}"
    email = f"{agent_id}@example.com"
    queues = {channel: f"{agent_id}-{channel}" for channel in ("phone", "chat", "voicemail")}
    with site.api() as api:
        for channel, queue_id in queues.items():
            body = {
                "id": queue_id,
                "name": f"{channel.title()} {n}",
                "channel": channel,
                "offer_timeout_seconds": offer_timeout,
                "wrap_up_seconds": wrap_up,
            }
            response = api.post(f"/api/v1/tenants/{TENANT}/queues", json=body)
            assert response.status_code == 201, response.text
        body = {
            "id": agent_id,
            "email": email,
            "display_name": f"{name.title()} Agent",
            "queue_ids": list(queues.values()),
        }
        response = api.post(f"/api/v1/tenants/{TENANT}/agents", json=body)
        assert response.status_code == 201, response.text
    site.crm.add_user(email, f"{name.title()} Agent")
    return Agent(agent_id, email, queues["phone"], queues["chat"], queues["voicemail"])


def open_workspace(context: Any, site: Site, agent: Agent) -> tuple[Any, Any]:
    """The agent signs in to the CRM, opens its console workspace, and the docked console signs in
    through the pop-up (consent the first time). Returns (workspace page, console frame)."""
    page = sign_in_to_crm(context, site.crm, agent.email)
    with context.expect_page() as opened:
        page.goto(f"{site.crm.base_url}/console")
    popup = opened.value
    popup.wait_for_selector("button[value=allow]")
    popup.click("button[value=allow]")
    until_closed(popup)
    for _ in range(100):  # the frame reloads once the pop-up has handed the sign-in over
        frame = console_frame(page, site.cb)
        try:
            frame.wait_for_selector("#live-state[data-state=connected]", timeout=300)
            return page, frame
        except Exception:  # noqa: BLE001 - reloading: look for the new frame
            continue
    raise AssertionError("the console never connected")


def set_status(frame: Any, value: str, shown: str) -> None:
    frame.select_option("#status-select", value)
    frame.wait_for_selector(f"#agent-status[data-status={shown}]")


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
