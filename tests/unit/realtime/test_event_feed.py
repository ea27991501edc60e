"""A node following a tenant held elsewhere: each subscriber joins the holder's numbered events exactly
after its snapshot, and any gap or new holder makes them reconnect rather than miss or repeat an event."""

from __future__ import annotations

import json
from dataclasses import dataclass

from callbridge.realtime.hub import Hub, Subscriber
from callbridge.services.forwarding import _Feed


@dataclass
class Message:
    data: bytes


def message(epoch: int, sequence: int, text: str = "") -> Message:
    frames = [[["t"], json.dumps({"n": text or f"{epoch}.{sequence}"})]]
    return Message(json.dumps({"e": epoch, "s": sequence, "d": frames, "m": {}}).encode())


def received(subscriber: Subscriber) -> list[str | None]:
    out: list[str | None] = []
    while not subscriber.outbox.empty():
        frame = subscriber.outbox.get_nowait()
        out.append(None if frame is None else json.loads(frame)["n"])
    return out


def console() -> Subscriber:
    return Subscriber(tenant_id="acme", agent_id="agent1", supervisor=False)


async def test_a_subscriber_joins_right_after_its_snapshot_whatever_the_feed_has_seen() -> None:
    feed = _Feed("acme", Hub())
    first, behind, ahead = console(), console(), console()
    feed.join(first, epoch=3, sequence=10)  # the first: the feed starts where its snapshot stands
    await feed.on_message(message(3, 10))  # already in the snapshot: dropped
    await feed.on_message(message(3, 11))
    await feed.on_message(message(3, 12))
    feed.join(behind, epoch=3, sequence=11)  # its snapshot predates 12: caught up from the recent ones
    feed.join(ahead, epoch=3, sequence=13)  # its snapshot includes 13, which has not arrived here yet
    await feed.on_message(message(3, 13))
    await feed.on_message(message(3, 14))
    assert received(first) == ["3.11", "3.12", "3.13", "3.14"]
    assert received(behind) == ["3.12", "3.13", "3.14"]
    assert received(ahead) == ["3.14"]


async def test_a_gap_lets_everyone_go_and_they_reconnect() -> None:
    feed = _Feed("acme", Hub())
    subscriber = console()
    feed.join(subscriber, epoch=3, sequence=1)
    await feed.on_message(message(3, 2))
    await feed.on_message(message(3, 4))  # 3 was lost
    assert received(subscriber) == [None]  # let go: the writer closes, the console reconnects
    assert subscriber.moved


async def test_a_new_holder_lets_everyone_go_and_the_old_ones_last_words_are_dropped() -> None:
    feed = _Feed("acme", Hub())
    old, new = console(), console()
    feed.join(old, epoch=3, sequence=5)
    await feed.on_message(message(4, 1))  # another node took the tenant
    assert received(old) == [None]
    feed.join(new, epoch=4, sequence=1)
    await feed.on_message(message(3, 6))  # the previous holder, late
    await feed.on_message(message(4, 2))
    assert received(new) == ["4.2"]


async def test_a_snapshot_from_a_replaced_holder_is_refused() -> None:
    feed = _Feed("acme", Hub())
    feed.join(console(), epoch=4, sequence=1)
    stale = console()
    feed.join(stale, epoch=3, sequence=9)
    assert received(stale) == [None]
