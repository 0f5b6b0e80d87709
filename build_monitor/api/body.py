"""Reading a request body without ever holding more than the limit in memory."""

from __future__ import annotations

from starlette.requests import Request


class BodyRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BodyRejected(400, "invalid Content-Length header")
        if int(declared) > limit:
            raise BodyRejected(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyRejected(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
