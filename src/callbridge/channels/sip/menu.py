"""Voice menus: a dialled number that answers with a prompt, where one key (DTMF) chooses the queue.

The keys come from rtpengine, which carries the caller's RTP: it sees RFC 4733 telephone-events in the media and,
started with `--dtmf-log-dest=<host>:<port>`, sends one JSON datagram per key when the key is released
(`{"callid", "source_tag", "event", "duration", ...}`; event 0-9 are the digits, 10 is `*`, 11 is `#`).
`DtmfListener` receives them on the controller's address; only datagrams from rtpengine's host are read, and a
key counts only for the caller's own side (its Call-ID and From tag) of a call that is in its menu.

rtpengine 10.5 forwards a plain G.711 call without decoding it, and then sees no keys: it reports them only
while its media player sends to the caller. So the menu keeps the player going for the whole wait: the prompt,
then silence (a WAV of zeros made here) until a key or the end of `wait_seconds`.

A call in its menu has no interaction yet: the caller is answered, hears the prompt (an agent greeting, or the
spoken default made here with espeak-ng), and a listed key (pressed during the prompt or within `wait_seconds`
after it) chooses the queue. Any other key, or none, plays the prompt again, `attempts` times in all; then the
call joins the number's own queue. The keys pressed go into the interaction's data: `menu_digits` (every key, in
order) and `menu_choice` (the key that chose the queue, or `default`), so screen-pop rules can search on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callbridge.channels.sip.directory import MENU_WAIT_SECONDS, Menu

if TYPE_CHECKING:
    from callbridge.channels.sip.controller import VoiceCall, VoiceController

log = logging.getLogger(__name__)

PROMPT_TEXT = "Please choose from the menu: press the key for the department you want."
EVENT_KEYS = "0123456789*#"  # RFC 4733 events 0-11
DEFAULT_CHOICE = "default"
SILENCE_SECONDS = MENU_WAIT_SECONDS[1] + 5  # longer than any wait for a key


def key_of(event: Any) -> str | None:
    """The keypad key of an rtpengine DTMF event number (A-D and flash are not menu keys)."""
    if isinstance(event, int) and not isinstance(event, bool) and 0 <= event < len(EVENT_KEYS):
        return EVENT_KEYS[event]
    return None


class DtmfListener(asyncio.DatagramProtocol):
    """rtpengine's DTMF events (UDP JSON); `on_key(call_id, source_tag, key)` runs on the event loop."""

    def __init__(self, rtpengine_host: str, on_key: Callable[[str, str, str], None]) -> None:
        self.rtpengine_host = rtpengine_host
        self.on_key = on_key
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(
        cls, address: str, port: int, rtpengine_host: str, on_key: Callable[[str, str, str], None]
    ) -> DtmfListener:
        loop = asyncio.get_running_loop()
        transport, listener = await loop.create_datagram_endpoint(
            lambda: cls(rtpengine_host, on_key), local_addr=(address, port)
        )
        listener.transport = transport
        return listener

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if addr[0] != self.rtpengine_host:
            log.warning("voice: a DTMF event from %s ignored: only rtpengine sends them", addr[0])
            return
        try:
            event = json.loads(data)
        except ValueError:
            log.warning("voice: unreadable DTMF event from rtpengine: %r", data[:200])
            return
        if not isinstance(event, dict):
            return
        key = key_of(event.get("event"))
        call_id, source_tag = event.get("callid"), event.get("source_tag")
        if key is not None and isinstance(call_id, str) and isinstance(source_tag, str):
            self.on_key(call_id, source_tag, key)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


def ensure_menu_prompt(sounds: Path) -> Path | None:
    """The spoken default prompt, made once with espeak-ng and sox (blocking: run in a thread). None without
    them: a menu with no greeting of its own then plays nothing before waiting for a key."""
    prompt = sounds / "menu-prompt.wav"
    if prompt.exists():
        return prompt
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        log.warning("voice: no spoken menu prompt: it is made with espeak-ng and sox (apt-get install both)")
        return None
    sounds.mkdir(parents=True, exist_ok=True)
    spoken = sounds / ".menu-spoken.wav"
    temporary = sounds / ".menu-prompt.wav"
    subprocess.run([espeak, "-w", str(spoken), PROMPT_TEXT], check=True, capture_output=True, timeout=60)  # noqa: S603
    subprocess.run(  # noqa: S603 - fixed programs, our own arguments
        [sox, str(spoken), "-r", "8000", "-c", "1", "-b", "16", str(temporary)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    temporary.replace(prompt)
    with contextlib.suppress(OSError):
        spoken.unlink()
    return prompt


def ensure_menu_silence(sounds: Path) -> Path:
    """Silence for rtpengine's player to send while a menu waits for a key (blocking: run in a thread)."""
    silence = sounds / "menu-silence.wav"
    if silence.exists():
        return silence
    sounds.mkdir(parents=True, exist_ok=True)
    temporary = sounds / ".menu-silence.wav"
    with wave.open(str(temporary), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(bytes(2 * 8000 * SILENCE_SECONDS))
    temporary.replace(silence)
    return silence


def choose(menu: Menu, pressed: list[str]) -> tuple[str, str] | None:
    """Pure: the queue and the choice for the keys pressed so far, or None while no listed key was pressed."""
    if pressed and (queue_id := menu.queue_for(pressed[-1])) is not None:
        return queue_id, pressed[-1]
    return None


async def run_menu(
    controller: VoiceController, call: VoiceCall, menu: Menu, prompt: Path | None, silence: Path | None
) -> tuple[str, str]:
    """Plays the prompt and waits for keys; returns the chosen queue and the choice (`default` when none).
    The caller's keys arrive in `call.keys` (the controller feeds it from `DtmfListener`)."""
    assert call.number is not None
    pressed: list[str] = call.pressed
    for attempt in range(1, menu.attempts + 1):
        while not call.keys.empty():  # a key pressed before this prompt was already answered (or refused)
            call.keys.get_nowait()
        key = None
        if prompt is not None:
            call.media = "menu"
            played = await controller.play_to_caller(call, prompt)
            key = await _key_within(call, float(played.get("duration", 0) or 0) / 1000.0)
        if key is None:
            if silence is not None:  # the player keeps going, so rtpengine keeps reporting keys
                call.media = "menu"
                await controller.play_to_caller(call, silence)
            key = await _key_within(call, float(menu.wait_seconds))
        await controller.stop_caller_media(call)  # a key stops the prompt (barge-in)
        if key is None:
            log.info("voice: %s pressed no key (prompt %s of %s)", call.interaction_id, attempt, menu.attempts)
            continue
        pressed.append(key)
        chosen = choose(menu, pressed)
        if chosen is not None:
            return chosen
        log.info("voice: %s pressed %s, which the menu does not list (prompt %s)", call.interaction_id, key, attempt)
    return call.number.queue_id, DEFAULT_CHOICE


async def _key_within(call: VoiceCall, seconds: float) -> str | None:
    try:
        return await asyncio.wait_for(call.keys.get(), seconds)
    except TimeoutError:
        return None
