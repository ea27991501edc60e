"""A small keep-alive HTTP/1.1 client for load generation.

httpx is the right client for applications, but as a load generator it costs
a lot per request: its connection pool (httpcore) scans every connection for
every queued request, so with a few hundred requests in flight the generator,
not the server, sets the pace. This client does only what the benchmarks
need: JSON bodies, Content-Length framing (all Callbridge responses have it),
a fixed pool of persistent connections, one request at a time on each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

IDLE_SECONDS = 4.0  # uvicorn closes keep-alive connections idle for 5 s


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = asyncio.get_running_loop().time()

    async def request(self, head: bytes, body: bytes) -> Response:
        self.writer.write(head + body)
        status_and_headers = await self.reader.readuntil(b"\r\n\r\n")
        lines = status_and_headers.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length) if length else b""
        return Response(status, payload)

    def close(self) -> None:
        self.writer.close()


class HttpPool:
    """Up to `size` keep-alive connections to one loopback server; requests wait for a free one."""

    def __init__(self, base_url: str, size: int) -> None:
        host_port = base_url.removeprefix("http://").rstrip("/")
        host, _, port = host_port.partition(":")
        self.host, self.port = host, int(port or 80)
        self.size = size
        self._idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
        self._opened = 0
        self._all: list[_Connection] = []

    async def _acquire(self) -> _Connection:
        now = asyncio.get_running_loop().time()
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if now - connection.last_used < IDLE_SECONDS:
                return connection
            self._discard(connection)  # the server may be closing it right now
        if self._opened < self.size:
            self._opened += 1
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except BaseException:
                self._opened -= 1
                raise
            connection = _Connection(reader, writer)
            self._all.append(connection)
            return connection
        return await self._idle.get()

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._opened -= 1
        with contextlib.suppress(ValueError):
            self._all.remove(connection)

    async def request(self, method: str, path: str, *, token: str, body: Any = None, attempts: int = 5) -> Response:
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        connection = await self._acquire()
        try:
            response = await connection.request(head, payload)
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            self._discard(connection)
            # the server closes idle keep-alive connections; it has then read nothing of this request
            if attempts > 1 and isinstance(error, asyncio.IncompleteReadError) and not error.partial:
                return await self.request(method, path, token=token, body=body, attempts=attempts - 1)
            raise
        except BaseException:
            self._discard(connection)
            raise
        connection.last_used = asyncio.get_running_loop().time()
        self._idle.put_nowait(connection)
        return response

    async def post(self, path: str, *, token: str, body: Any = None) -> Response:
        return await self.request("POST", path, token=token, body=body)

    async def aclose(self) -> None:
        for connection in self._all:
            connection.close()
        self._all = []
