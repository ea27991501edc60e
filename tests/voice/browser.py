"""The browser softphone's test helpers: the site's engine log, a signed-in agent's console page, and what the
page hears (WebAudio's AnalyserNode on the remote stream: its strongest frequency) and its RTP counters (getStats;
the page scripts are in tests/voice/webrtc_page.py, shared with the voice benchmark).
The fixtures (`site`, `browsers`, `chromium`) are in tests/voice/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.e2e.conftest import Harness
from tests.voice.conftest import DEADLINE, WEBPHONE_TENANT, wait_for
from tests.voice.webrtc_page import BROWSER_TONE, LISTEN_JS, STATS_JS, TRACK_PEERS_JS

from callbridge.auth.credentials import create_session
from callbridge.domain import commands as cmd
from callbridge.web.deps import SESSION_COOKIE

__all__ = ["BROWSER_TONE", "ConsolePage", "WebPhoneSite", "console"]


@dataclass
class WebPhoneSite:
    base: str
    app: Any
    client: httpx.Client
    harness: Harness
    sip_port: int
    workdir: Path
    voice_dir: Path
    trunk_port: int

    def engine_log(self) -> str:
        text = (self.voice_dir / "kamailio.log").read_text(errors="replace")
        return "\n".join(line for line in text.splitlines() if "voice:" in line or "ERROR" in line)[-4000:]

    def registered(self, username: str) -> bool:
        try:
            self.app.state.channels.voice.rpc.call("ul.lookup", "location", username)
        except Exception:
            return False
        return True

    def interaction(self) -> dict[str, Any] | None:
        """The tenant's one live interaction, as the snapshot shows it."""
        response = self.client.get(f"/api/v1/tenants/{WEBPHONE_TENANT}/snapshot", headers=self.harness.admin)
        found = list(response.json()["interactions"].values())
        return found[0] if found else None

    def agent(self, agent_id: str, rings: str = "browser") -> dict[str, str]:
        """The agent, whose phone is `rings` (their browser, or their desk phone), signs in (on Break); returns
        their session's headers."""
        client, admin = self.client, self.harness.admin
        chosen = client.put(
            f"/api/v1/tenants/{WEBPHONE_TENANT}/voice/phones/{agent_id}", json={"rings": rings}, headers=admin
        )
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["rings"] == rings
        services = self.app.state.services
        loop = self.app.state.channels.voice.controller.stack.loop  # the served event loop
        signed_in = services.node.execute(WEBPHONE_TENANT, cmd.SignIn(agent_id))
        asyncio.run_coroutine_threadsafe(signed_in, loop).result(DEADLINE)
        token = create_session(services.engine, "agent", agent_id, WEBPHONE_TENANT, services.clock.now())
        return {"Authorization": f"Bearer {token}"}


@dataclass
class ConsolePage:
    """An agent's console in its own browser context, its softphone registered."""

    page: Any
    agent: dict[str, str]  # the agent's session headers
    said: list[str] = field(default_factory=list)  # the page's console, printed when a wait fails

    @property
    def phone_state(self) -> Any:
        return self.page.locator("#phone-state")

    def heard(self, frequency: float) -> dict[str, Any] | None:
        """What the page plays now, when its strongest frequency is `frequency`."""
        found = self.page.evaluate(LISTEN_JS)
        return found if found and abs(found["peak_hz"] - frequency) < 20 and found["peak_db"] > -70 else None

    def wait_to_hear(self, frequency: float, what: str) -> dict[str, Any]:
        return wait_for(lambda: self.heard(frequency), what)

    def stats(self) -> dict[str, Any]:
        return self.page.evaluate(STATS_JS)  # type: ignore[no-any-return]

    def diagnosis(self) -> str:
        heard: Any = None
        with contextlib.suppress(Exception):
            heard = (self.page.evaluate(LISTEN_JS), self.stats())
        return "\n".join([f"phone state: {self.phone_state.text_content()}; hears, inbound RTP: {heard}", *self.said])


@contextlib.contextmanager
def console(site: WebPhoneSite, browser: Any, agent_id: str, *scripts: str) -> Iterator[ConsolePage]:
    """The agent (phone: browser) signs in and opens the console; yields once its softphone is registered.
    `scripts` run in the page before its own (after TRACK_PEERS_JS)."""
    agent = site.agent(agent_id)
    context = browser.new_context()
    try:
        context.add_cookies([{"name": SESSION_COOKIE, "value": agent["Authorization"][7:], "url": site.base}])
        page = context.new_page()
        opened = ConsolePage(page, agent)
        page.on("console", lambda message: opened.said.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: opened.said.append(f"error: {error}"))
        page.add_init_script(TRACK_PEERS_JS)
        for script in scripts:
            page.add_init_script(script)
        page.goto(f"{site.base}/console?tenant={WEBPHONE_TENANT}")
        try:
            wait_for(lambda: opened.phone_state.text_content() == "Phone ready", f"{agent_id}'s softphone to register")
            yield opened
        except Exception:
            print(opened.diagnosis())
            print(site.engine_log())
            raise
    finally:
        with contextlib.suppress(Exception):
            context.close()
