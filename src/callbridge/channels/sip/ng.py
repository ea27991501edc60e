"""rtpengine's NG control protocol: one bencoded dictionary per UDP datagram, behind a cookie.

Wire format only (the encoding is the `bencode.py` library's): a request is `<cookie> <bencoded dict>`, the
answer carries the same cookie. Requests are retransmitted until answered or the deadline passes; rtpengine
recognises a retransmission by its cookie and answers it from its cache, so a retry never applies twice.
Everything here is asyncio: nothing blocks the node's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from typing import Any

import bencode

log = logging.getLogger(__name__)


PING_SECONDS = 2.0


class NgError(Exception):
    """rtpengine refused a command, or did not answer in time."""


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, pending: dict[bytes, asyncio.Future[dict[str, Any]]]) -> None:
        self.pending = pending

    def datagram_received(self, data: bytes, addr: Any) -> None:
        cookie, _, payload = data.partition(b" ")
        future = self.pending.get(cookie)
        if future is None or future.done():
            return
        try:
            answer = bencode.decode(payload)
        except Exception as error:
            future.set_exception(NgError(f"unreadable answer from rtpengine: {error}"))
            return
        future.set_result(_text(answer))

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: rtpengine is not there
        for future in self.pending.values():
            if not future.done():
                future.set_exception(NgError(f"rtpengine unreachable: {exc}"))


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_text(key): _text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_text(item) for item in value]
    return value


class NgClient:
    """Talks to one rtpengine: `await client.command("offer", {...})` returns the answer dictionary."""

    # As Kamailio's rtpengine module (5 tries, 1 s apart): an rtpengine busy setting up many WebRTC calls at once
    # (DTLS, ICE, Opus) answered an offer after more than 2 s, and the agents it was for were never rung.
    def __init__(self, host: str, port: int, *, timeout: float = 5.0, retry_interval: float = 0.5) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self.retry_interval = retry_interval
        self._pending: dict[bytes, asyncio.Future[dict[str, Any]]] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._prefix = os.urandom(4).hex()
        self._serial = itertools.count(1)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self._pending), remote_addr=self.address
        )

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def command(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._transport is None:
            await self.start()
        assert self._transport is not None
        cookie = f"{self._prefix}_{next(self._serial)}".encode()
        datagram = cookie + b" " + bencode.encode({"command": name, **(arguments or {})})
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cookie] = future
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    self._transport.sendto(datagram)
                    with contextlib.suppress(TimeoutError):
                        answer = await asyncio.wait_for(asyncio.shield(future), self.retry_interval)
                        break
        except TimeoutError:
            raise NgError(f"rtpengine at {self.address[0]}:{self.address[1]} did not answer {name!r}") from None
        finally:
            self._pending.pop(cookie, None)
        if answer.get("result") == "error":
            raise NgError(f"rtpengine refused {name!r}: {answer.get('error-reason', 'no reason given')}")
        if answer.get("warning"):
            log.info("rtpengine warns about %s: %s", name, answer["warning"])
        return answer

    async def ping(self) -> bool:
        try:
            # a health check answers quickly: down is reported after PING_SECONDS, not a call's patience
            async with asyncio.timeout(PING_SECONDS):
                return (await self.command("ping")).get("result") == "pong"
        except (NgError, TimeoutError):
            return False
