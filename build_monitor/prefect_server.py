"""build-monitor's local Prefect server: Prefect's own app, as `prefect server start` serves it
(`create_app(final=True)`: API, UI and background services), behind `RetryServiceUnavailable`.

Why the layer: on SQLite, Prefect's server answers a write whose DEFERRED transaction read
before another writer committed (its own task-run recorder, say) with 503 at once, since SQLite
cannot upgrade a stale snapshot and `busy_timeout` does not apply. Prefect's client then sleeps
2 s (2**try; no setting changes it, and only a Retry-After header shortens it). A bisection
creates one subflow per round and met that wait on most rounds. Retrying in the server, on a
fresh transaction after a few milliseconds, answers the same request the client would resend.

Why `immediate_write_transactions`: most of those 503s need not happen at all. Prefect's server
opens each write transaction on SQLite with `BEGIN DEFERRED`; begun `IMMEDIATE` instead, it takes
the write lock first, so a concurrent writer makes it wait (SQLite's `busy_timeout`, which
Prefect sets) rather than fail after its reads. A round's subflow then costs one request where it
cost four (three 503s and their delays, about 0.13 s). Reads outside a transaction are untouched.
Should Prefect ever emit another statement, nothing is rewritten and the retry layer still holds.

Run as `python -m build_monitor.prefect_server --host 127.0.0.1 --port 4200`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import sqlalchemy

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SERVICE_UNAVAILABLE = 503
RETRY_DELAYS_SECONDS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.25, 0.4)

logger = logging.getLogger(__name__)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The request body once more, then the client's own messages (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class RetryServiceUnavailable:
    """ASGI middleware: an HTTP request the app answers with 503 is run again after each delay
    in `delays`; the last 503 goes to the client as it was (so its own backoff still applies).
    A retried 503's response is never sent, so the client sees one answer per request."""

    def __init__(self, app: ASGIApp, delays: tuple[float, ...] = RETRY_DELAYS_SECONDS) -> None:
        self.app = app
        self.delays = delays

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        # Each attempt gets its own copy of the scope: routing rewrites it in place (a mount
        # sets root_path), and a second pass over a rewritten scope finds no route.
        for delay in self.delays:
            if not await self._attempt(dict(scope), _replaying(body, receive), send):
                return
            logger.debug("%s %s: 503, retried in %ss", scope["method"], scope["path"], delay)
            await asyncio.sleep(delay)
        await self.app(dict(scope), _replaying(body, receive), send)

    async def _attempt(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Run the app once; True when it answered 503 (held back, so the request may be run
        again), False when its answer went to the client."""
        held_back = False

        async def forward_unless_unavailable(message: Message) -> None:
            nonlocal held_back
            if message["type"] == "http.response.start":
                held_back = message["status"] == SERVICE_UNAVAILABLE
            if not held_back:
                await send(message)

        try:
            await self.app(scope, receive, forward_unless_unavailable)
        except Exception:
            # Starlette re-raises an exception after its handler has sent the 503.
            if not held_back:
                raise
        return held_back


DEFERRED_BEGIN = "BEGIN DEFERRED"
IMMEDIATE_BEGIN = "BEGIN IMMEDIATE"


def _begin_immediately(
    connection: sqlalchemy.Connection,
    cursor: object,
    statement: str,
    parameters: object,
    context: object,
    executemany: bool,
) -> tuple[str, object]:
    return (IMMEDIATE_BEGIN if statement == DEFERRED_BEGIN else statement), parameters


def immediate_write_transactions(target: object = sqlalchemy.engine.Engine) -> None:
    """Begin every `BEGIN DEFERRED` transaction of `target` (an engine, or every engine of this
    process by default) as `BEGIN IMMEDIATE`."""
    sqlalchemy.event.listen(target, "before_cursor_execute", _begin_immediately, retval=True)


def create_server_app() -> ASGIApp:
    from prefect.server.api.server import create_app

    immediate_write_transactions()
    return RetryServiceUnavailable(create_app(final=True))


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m build_monitor.prefect_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_server_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
