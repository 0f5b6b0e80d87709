"""Bearer-token authentication of the REST API (constant-time comparison)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer_scheme = HTTPBearer(auto_error=False, description="the API token of [api] token")

TokenSource = Callable[[], Awaitable[str | None]]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def token_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


async def authorize(
    request: Request, credentials: HTTPAuthorizationCredentials | None, *, write: bool
) -> None:
    ctx = request.app.state.ctx
    if not write and ctx.api.public_read:
        return
    expected = await ctx.api_token()
    if expected is None:
        raise _unauthorized(
            "no API token is configured: set [api] token = { env = ... } or { block = ... }"
            + ("" if write else ", or [api] public_read = true")
        )
    if credentials is None or not token_matches(expected, credentials.credentials):
        raise _unauthorized("missing or invalid bearer token")
