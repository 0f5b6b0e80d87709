"""History tasks of a distributed bisection's probes (build_monitor/history/probe_claims.py):
request one, claim it on a worker, store its result, give it back."""

from __future__ import annotations

import time
from datetime import timedelta

from build_monitor.bisection.rounds import ProbeResult
from build_monitor.config import Config
from build_monitor.errors import InfrastructureError
from build_monitor.history import probe_claims
from build_monitor.history.db import session_scope
from build_monitor.history.models import ProbeClaim
from tasks.retry import DATABASE_TASK


@DATABASE_TASK(task_run_name="request probe {commit:.10}")
def request_probe(config: Config, bisection_id: int, commit: str) -> int:
    with session_scope(config.database_url) as session:
        return probe_claims.request_probe(session=session, bisection_id=bisection_id, commit=commit)


def read_probe_claim(config: Config, probe_id: int) -> ProbeClaim:
    """A plain read for polling loops (a task run per poll would flood the UI)."""
    with session_scope(config.database_url) as session:
        claim = probe_claims.read_probe(session=session, probe_id=probe_id)
        session.expunge(claim)
        return claim


def stored_result(claim: ProbeClaim) -> ProbeResult | None:
    if claim.status != probe_claims.DONE or claim.result is None:
        return None
    return ProbeResult.model_validate_json(claim.result)


@DATABASE_TASK(task_run_name="claim probe {probe_id}")
def claim_probe(
    config: Config,
    probe_id: int,
    owner: str,
    wait_seconds: float,
    stale_after: timedelta = probe_claims.STALE_CLAIM_AFTER,
) -> ProbeResult | None:
    """Hold the probe for `owner`, waiting while another live run holds it. Returns the stored
    result instead when the probe is already done (by this run's predecessor, or the run it
    waited for); None when `owner` now holds it and must build."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with session_scope(config.database_url) as session:
            outcome = probe_claims.claim_probe(
                session=session, probe_id=probe_id, owner=owner, stale_after=stale_after
            )
        if outcome.result is not None:
            return ProbeResult.model_validate_json(outcome.result)
        if outcome.claimed:
            return None
        if time.monotonic() > deadline:
            raise InfrastructureError(
                f"probe {probe_id} is still held by the live run {outcome.owner} "
                f"after {wait_seconds:g}s"
            )
        time.sleep(1)


@DATABASE_TASK(task_run_name="store probe {probe_id}")
def store_probe_result(
    config: Config, probe_id: int, owner: str, result: ProbeResult
) -> ProbeResult:
    """Store the result; if another run stored one first, that one is the probe's result."""
    with session_scope(config.database_url) as session:
        stored = probe_claims.finish_probe(
            session=session, probe_id=probe_id, owner=owner, result=result.model_dump_json()
        )
    return ProbeResult.model_validate_json(stored)


@DATABASE_TASK(task_run_name="release probe {probe_id}")
def release_probe(config: Config, probe_id: int, owner: str) -> None:
    with session_scope(config.database_url) as session:
        probe_claims.release_probe(session=session, probe_id=probe_id, owner=owner)
