"""The console's transfer picker: queues and available colleagues; the colleague's console is offered the call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.console.console_support import Site, eventually, new_agent, open_workspace, set_status
from tests.console.test_console_browser import incoming_call

pytestmark = pytest.mark.browser
PROBLEM = "#console-error"


def test_an_agent_transfers_a_call_to_an_available_colleague_whose_console_is_offered_it(
    browser: Any, site: Site, artifacts_dir: Path
) -> None:
    first, second = new_agent(site, "tess"), new_agent(site, "theo")
    first_context = browser.new_context(viewport={"width": 1280, "height": 760})
    second_context = browser.new_context(viewport={"width": 1280, "height": 760})
    try:
        page, console = open_workspace(first_context, site, first)
        _page2, colleague = open_workspace(second_context, site, second)
        set_status(console, "available", "available")
        call_id = incoming_call(site, first.phone, "+1 415 555 0177")
        console.click(f".offer[data-interaction-id='{call_id}'] button[data-action=accept]")
        card = console.wait_for_selector(f".interaction[data-interaction-id='{call_id}'][data-state=connected]")
        set_status(colleague, "available", "available")

        picker = f"#transfer-{call_id}"

        def options() -> list[list[str]] | None:
            console.focus("#status-select")
            console.focus(picker)  # filled again on focus: the colleague's status arrives as an event
            found: list[list[str]] = console.eval_on_selector(
                picker, "s => [...s.options].map(o => [o.value, o.textContent])"
            )
            return found if any(value == f"agent:{second.id}" for value, _text in found) else None

        listed = eventually(options)
        values = [value for value, _text in listed]
        assert first.phone in values, listed
        assert f"agent:{second.id}" in values, listed
        assert f"agent:{first.id}" not in values, options  # never to yourself
        assert "number" in values, options  # a call may also go to an outside number
        console.select_option(picker, f"agent:{second.id}")
        page.screenshot(path=str(artifacts_dir / "transfer-picker.png"))
        # a warm transfer needs a call Callbridge carries itself: this one comes from an outside PBX
        card.query_selector("button[data-action=consult]").click()
        eventually(lambda: "own voice channel" in (console.text_content(PROBLEM) or ""))
        assert card.query_selector("button[data-action=consult-complete]").is_hidden()
        card.query_selector("button[data-action=transfer]").click()

        colleague.wait_for_selector(f".offer[data-interaction-id='{call_id}']")
        console.wait_for_selector(f".interaction[data-interaction-id='{call_id}']", state="detached")
    finally:
        first_context.close()
        second_context.close()
