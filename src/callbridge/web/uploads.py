"""Reading uploads with a size limit enforced while reading, not after."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator


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
