"""Reading uploads with a size limit enforced while reading, not after."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator

from starlette.responses import Response

log = logging.getLogger(__name__)


class UploadTooLarge(Exception):  # noqa: N818 - it names what happened
    pass


async def limited(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    """Passes the request body through, raising UploadTooLarge once more than `limit` bytes came."""
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise UploadTooLarge
        yield chunk


def abandoned(what: str) -> Response:
    """The client went away before sending the whole body (starlette's ClientDisconnect): a normal event on
    the internet, worth one line in the log, not a traceback. Nobody is left to read the answer."""
    log.info("%s upload abandoned: the client disconnected before sending all of it", what)
    return Response(status_code=400)
