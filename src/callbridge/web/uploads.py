"""Reading uploads with a size limit enforced while reading, not after."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator

from starlette.datastructures import FormData
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
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


async def upload_form(request: Request, limit: int, *, max_fields: int = 4) -> FormData:
    """A multipart form of at most `limit` bytes (one file), refused as soon as more arrive: a declared
    Content-Length above the limit is refused before reading. Raises UploadTooLarge, NotMultipart,
    starlette's MultiPartException (malformed) or ClientDisconnect (the client went away)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise NotMultipart
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge
    parser = MultiPartParser(request.headers, limited(request.stream(), limit), max_files=1, max_fields=max_fields)
    return await parser.parse()


class NotMultipart(Exception):  # noqa: N818 - it names what happened
    pass
