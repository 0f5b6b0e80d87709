"""A running bisection's heartbeat: a background thread refreshes `bisections.heartbeat_at`, so
another host can tell a live bisection from one whose process died (on the same host, the pid
tells)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from build_monitor.history.bisections import beat_bisection
from build_monitor.history.db import HistoryUnavailableError, session_scope

logger = logging.getLogger("build_monitor.history")

HEARTBEAT_INTERVAL = timedelta(seconds=30)
# Several missed beats: a paused or overloaded process is not declared dead at once.
STALE_HEARTBEAT_AFTER = HEARTBEAT_INTERVAL * 10


@contextmanager
def bisection_heartbeat(
    database_url: str, bisection_id: int, interval: timedelta = HEARTBEAT_INTERVAL
) -> Iterator[None]:
    """Beat now and every `interval` until the block ends."""
    stop = threading.Event()

    def beat() -> None:
        try:
            with session_scope(database_url) as session:
                beat_bisection(session=session, bisection_id=bisection_id)
        except HistoryUnavailableError as exc:
            logger.warning("bisection %d: heartbeat not recorded: %s", bisection_id, exc)

    def loop() -> None:
        while not stop.wait(interval.total_seconds()):
            beat()

    beat()
    thread = threading.Thread(target=loop, name=f"bisection-{bisection_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
