"""The console through an interaction's end: the status menu says what comes after Busy, the call's controls
leave with the caller, and wrap-up notes typed but never completed are kept when the wrap-up time runs out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.console.console_support import TENANT, Site, eventually, new_agent, open_workspace, set_status
from tests.console.test_console_browser import incoming_call

pytestmark = pytest.mark.browser


def telephony(site: Site, call_id: str, kind: str) -> None:
    body = {"event_id": f"{call_id}-{kind}", "type": kind, "call_id": call_id}
    with site.api() as api:
        response = api.post("/api/v1/telephony/events", json=body, headers=site.pbx)
    assert response.status_code in (200, 201), response.text


def menu_text(console: Any) -> str:
    text: str = console.eval_on_selector("#status-select", "s => s.selectedOptions[0].textContent")
    return text


def test_a_caller_who_hangs_up_leaves_wrap_up_whose_notes_survive_the_timer(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    agent = new_agent(site, "wren", wrap_up=8)
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page, console = open_workspace(context, site, agent)
        set_status(console, "available", "available")
        assert menu_text(console) == "Available"
        call_id = incoming_call(site, agent.phone, "+1 415 555 0123")
        console.click(f".offer[data-interaction-id='{call_id}'] button[data-action=accept]")
        card = console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=connected]")
        console.wait_for_selector("#agent-status[data-status=busy]")
        eventually(lambda: menu_text(console) == "After this: Available")
        page.screenshot(path=str(artifacts_dir / "busy-status-menu.png"))
        # the agent picks what comes next while busy: the badge stays Busy, the menu says the choice
        console.select_option("#status-select", "break:Lunch")
        eventually(lambda: menu_text(console) == "After this: Break: lunch")
        assert console.get_attribute("#agent-status", "data-status") == "busy"
        console.select_option("#status-select", "available")
        eventually(lambda: menu_text(console) == "After this: Available")

        telephony(site, call_id, "call.ended")  # the caller hangs up
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=wrap_up]")
        console.wait_for_selector("#agent-status[data-status=wrap_up]")
        for action in ("hang-up", "hold", "transfer"):
            assert card.query_selector(f"button[data-action={action}]").is_hidden(), f"{action} stays after the call"
        eventually(lambda: menu_text(console) == "After this: Available")
        console.select_option(f"#disposition-{call_id}", "Follow-up needed")
        console.fill(f"#notes-{call_id}", "Call back on Friday")
        card.wait_for_selector(".wrap-saved:text('Notes saved')")
        page.screenshot(path=str(artifacts_dir / "wrap-up-notes-saved.png"))
        # no Complete: the wrap-up time runs out, and what was typed is the interaction's
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}']", state="detached", timeout=30_000)
        console.wait_for_selector("#agent-status[data-status=available]")
        assert menu_text(console) == "Available"
        with site.api() as api:
            found = api.get(
                f"/api/v1/tenants/{TENANT}/reports/interactions", params={"disposition": "Follow-up needed"}
            ).json()["interactions"]
        assert [(i["id"], i["state"]) for i in found] == [(call_id, "completed")]
    finally:
        context.close()
