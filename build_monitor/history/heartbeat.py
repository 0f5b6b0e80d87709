"""A running bisection's heartbeat: a background thread refreshes `bisections.heartbeat_at`, so
another host can tell a live bisection from one whose process died (on the same host, the pid
tells). `recover_interrupted_bisections` marks the dead ones `interrupted` and lists them with
their flow runs, for the interfaces to give those runs Prefect's Crashed state."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select

from build_monitor.history.bisections import beat_bisection, mark_interrupted_bisections
from build_monitor.history.db import HistoryUnavailableError, session_scope
from build_monitor.history.models import Bisection, BisectionStatus

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


@dataclass(frozen=True)
class InterruptedBisection:
    bisection_id: int
    service: str
    flow_run_id: str | None
    marked_now: bool  # False: an earlier command marked it (its flow run may still be Running)


def recover_interrupted_bisections(
    database_url: str,
    *,
    stale_heartbeat_after: timedelta = STALE_HEARTBEAT_AFTER,
    limit: int = 20,
) -> list[InterruptedBisection]:
    """Mark bisections whose process died `interrupted`; return the newest `limit` interrupted
    ones. Earlier ones are listed again, so a flow run that could not be crashed then (Prefect
    was down) is crashed by the next recovery."""
    with session_scope(database_url) as session:
        running = select(Bisection.id).where(Bisection.status == BisectionStatus.running)
        was_running = set(session.exec(running).all())
        mark_interrupted_bisections(session=session, stale_heartbeat_after=stale_heartbeat_after)
        session.flush()
        statement = (
            select(Bisection)
            .where(Bisection.status == BisectionStatus.interrupted)
            .order_by(col(Bisection.id).desc())
            .limit(limit)
        )
        return [
            InterruptedBisection(
                bisection_id=bisection.id or 0,
                service=bisection.service,
                flow_run_id=bisection.flow_run_id,
                marked_now=bisection.id in was_running,
            )
            for bisection in session.exec(statement).all()
        ]
