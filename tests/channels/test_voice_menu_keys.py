"""How the voice controller reads menu keys from rtpengine's DTMF events (channels/sip/menu.py): real UDP on
loopback; the engines themselves are exercised in tests/voice/test_menus.py."""

from __future__ import annotations

import asyncio
import json
import socket

from callbridge.channels.sip.directory import Menu
from callbridge.channels.sip.menu import DtmfListener, choose, key_of


def test_rtpengine_event_numbers_are_keypad_keys_and_nothing_else() -> None:
    assert [key_of(event) for event in (0, 9, 10, 11)] == ["0", "9", "*", "#"]
    assert [key_of(event) for event in (12, 16, -1, "1", None, True)] == [None] * 6


def test_only_a_listed_last_key_chooses_a_queue() -> None:
    menu = Menu(options=(("1", "sales"), ("#", "billing")))
    assert choose(menu, []) is None
    assert choose(menu, ["7"]) is None
    assert choose(menu, ["7", "#"]) == ("billing", "#")


async def test_keys_count_only_from_rtpengine_s_address() -> None:
    heard: list[tuple[str, str, str]] = []
    arrived = asyncio.Event()

    def on_key(call_id: str, tag: str, key: str) -> None:
        heard.append((call_id, tag, key))
        arrived.set()

    listener = await DtmfListener.open("127.0.0.1", 0, "127.0.0.1", on_key)
    try:
        event = {"callid": "c1", "source_tag": "t1", "event": 11, "duration": 100}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.bind(("127.0.0.2", 0))  # another host than rtpengine's
            stranger.sendto(json.dumps({**event, "event": 1}).encode(), ("127.0.0.1", listener.port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtpengine:
            rtpengine.sendto(b"not json", ("127.0.0.1", listener.port))
            rtpengine.sendto(json.dumps({**event, "event": 14}).encode(), ("127.0.0.1", listener.port))
            rtpengine.sendto(json.dumps(event).encode(), ("127.0.0.1", listener.port))
        await asyncio.wait_for(arrived.wait(), 5)
        # the datagrams sent before it were read first (one socket, in order): none of them counted
        assert heard == [("c1", "t1", "#")]
    finally:
        listener.close()
