"""Reading a request body with a size cap: refused from its Content-Length, or as soon as the bytes
streamed in pass the cap. A 10 MB body is never buffered, whatever the client announces."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from server.errors import AppError


async def read_capped(request: Request, limit: int, too_large: Callable[[], AppError]) -> bytes:
    # The HTTP server has already refused a Content-Length that is not a number.
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large()
    return bytes(body)
