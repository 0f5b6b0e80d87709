"""Keyword-only CRUD for the probes of a distributed bisection (table `probe_claims`).

The bisect flow requests a probe (one row); a `bisect-probe` run on some worker claims it, beats
its heartbeat while it builds, and stores the result. A run retried on another worker returns a
stored result instead of building again, and takes over a claim only once its owner's heartbeat
is stale: the owner died. Claims are compare-and-set UPDATEs, so two live runs never both hold
one, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import CursorResult, or_
from sqlmodel import Session, col, select, update

from build_monitor.history.db import HistoryUnavailableError, session_scope
from build_monitor.history.models import ProbeClaim, utcnow

logger = logging.getLogger("build_monitor.history")

REQUESTED, RUNNING, DONE = "requested", "running", "done"


@dataclass(frozen=True)
class ClaimOutcome:
    """`claimed`: this owner holds the probe now. `result`: the probe is done (its JSON)."""

    claimed: bool
    result: str | None = None
    owner: str | None = None


def _rowcount(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


def request_probe(*, session: Session, bisection_id: int, commit: str) -> int:
    claim = ProbeClaim(bisection_id=bisection_id, commit=commit)
    session.add(claim)
    session.flush()
    assert claim.id is not None
    return claim.id


def read_probe(*, session: Session, probe_id: int) -> ProbeClaim:
    claim = session.get(ProbeClaim, probe_id)
    if claim is None:
        raise LookupError(f"probe {probe_id} does not exist")
    session.refresh(claim)
    return claim


def claim_probe(
    *, session: Session, probe_id: int, owner: str, stale_after: timedelta
) -> ClaimOutcome:
    """Take the probe unless it is done or another owner's heartbeat is fresh."""
    now = utcnow()
    taken = session.execute(
        update(ProbeClaim)
        .where(
            col(ProbeClaim.id) == probe_id,
            col(ProbeClaim.status) != DONE,
            or_(
                col(ProbeClaim.owner).is_(None),
                col(ProbeClaim.owner) == owner,
                col(ProbeClaim.heartbeat_at) < now - stale_after,
            ),
        )
        .values(
            status=RUNNING,
            owner=owner,
            host=socket.gethostname(),
            heartbeat_at=now,
            attempts=ProbeClaim.attempts + 1,
        )
    )
    session.flush()
    claim = read_probe(session=session, probe_id=probe_id)
    if claim.status == DONE:
        return ClaimOutcome(claimed=False, result=claim.result, owner=claim.owner)
    return ClaimOutcome(claimed=_rowcount(taken) == 1, owner=claim.owner)


def beat_probe(*, session: Session, probe_id: int, owner: str) -> bool:
    """Refresh the owner's heartbeat; False once the probe is done or another run took it."""
    beaten = session.execute(
        update(ProbeClaim)
        .where(
            col(ProbeClaim.id) == probe_id,
            col(ProbeClaim.owner) == owner,
            col(ProbeClaim.status) == RUNNING,
        )
        .values(heartbeat_at=utcnow())
    )
    return _rowcount(beaten) == 1


def finish_probe(*, session: Session, probe_id: int, owner: str, result: str) -> str:
    """Store `result` unless a result is already stored (the first one wins); the stored one."""
    session.execute(
        update(ProbeClaim)
        .where(col(ProbeClaim.id) == probe_id, col(ProbeClaim.status) != DONE)
        .values(status=DONE, owner=owner, result=result, finished_at=utcnow())
    )
    session.flush()
    stored = read_probe(session=session, probe_id=probe_id).result
    assert stored is not None
    return stored


def release_probe(*, session: Session, probe_id: int, owner: str) -> None:
    """Give the probe back (its run failed): the next run may claim it at once."""
    session.execute(
        update(ProbeClaim)
        .where(
            col(ProbeClaim.id) == probe_id,
            col(ProbeClaim.owner) == owner,
            col(ProbeClaim.status) == RUNNING,
        )
        .values(status=REQUESTED, owner=None, heartbeat_at=None)
    )


def claims_of(*, session: Session, bisection_id: int) -> Sequence[ProbeClaim]:
    statement = (
        select(ProbeClaim)
        .where(ProbeClaim.bisection_id == bisection_id)
        .order_by(col(ProbeClaim.id))
    )
    return session.exec(statement).all()


CLAIM_HEARTBEAT = timedelta(seconds=2)
# Ten missed beats: the owner's process (or its host) died, and another run may take over.
STALE_CLAIM_AFTER = CLAIM_HEARTBEAT * 10


@contextmanager
def probe_heartbeat(
    database_url: str, probe_id: int, owner: str, interval: timedelta = CLAIM_HEARTBEAT
) -> Iterator[None]:
    """Beat the claim now and every `interval` until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval.total_seconds()):
            try:
                with session_scope(database_url) as session:
                    beat_probe(session=session, probe_id=probe_id, owner=owner)
            except HistoryUnavailableError as exc:
                logger.warning("probe %d: heartbeat not recorded: %s", probe_id, exc)

    thread = threading.Thread(target=loop, name=f"probe-{probe_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
