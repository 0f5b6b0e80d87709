"""A distributed probe, seen from the bisection: a run of the `bisect-probe` deployment that any
worker on the pool may take (flows/probe.py), watched until the history database holds its
result. A run whose worker died (no claim heartbeat) is marked crashed and run again; the new
run returns the stored result if the dead one got as far as storing it, else builds."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Cancelled, Crashed

from build_monitor.bisection import Observation, ProbeOutcome
from build_monitor.bisection.probe_request import ProbeRequest
from build_monitor.bisection.rounds import ProbeResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.history.models import utcnow
from build_monitor.history.probe_claims import STALE_CLAIM_AFTER
from tasks.probe_claims import read_probe_claim, request_probe, stored_result
from tasks.retry import TaskPolicy
from tasks.run_labels import run_tags

PROBE_DEPLOYMENT = "bisect-probe/bisect-probe"
PROBE_RUN_ATTEMPTS = 3
# How long a run may wait for a worker to take it before the probe counts as an error.
PICKUP_TIMEOUT = timedelta(minutes=10)
# From a worker taking the run to its first claim heartbeat (process start, imports, config).
STARTUP_GRACE = timedelta(seconds=90)
POLL_SECONDS = 1.0

# No retries: a crashed run is retried here, on whichever worker takes the new run.
_WAIT_TASK = TaskPolicy()


@_WAIT_TASK(name="probe-on-worker", task_run_name="probe {commit:.10} on a worker")
def probe_on_worker(
    config: Config,
    service: ServiceConfig,
    commit: str,
    bisection_id: int,
    keep_checked_out: list[str],
) -> ProbeResult:
    """Run one probe as a `bisect-probe` deployment run and return its stored result."""
    request = ProbeRequest(
        service=service.name,
        config_path=str(config.source) if config.source else None,
        bisection_id=bisection_id,
        probe_id=request_probe(config, bisection_id, commit),
        commit=commit,
        keep_checked_out=keep_checked_out,
    )
    logger = get_run_logger()
    for attempt in range(1, PROBE_RUN_ATTEMPTS + 1):
        run = cast(
            FlowRun,
            run_deployment(
                PROBE_DEPLOYMENT,
                parameters={"request": request.model_dump(mode="json")},
                timeout=0,
                idempotency_key=f"bisect-probe-{request.probe_id}-{attempt}",
                tags=run_tags(service.name, "bisect"),
            ),
        )
        result, problem = _await_probe(config, request.probe_id, run.id)
        if result is not None:
            return result
        logger.warning("probe of %s, run %d: %s", commit[:10], attempt, problem)
    return ProbeResult(
        observation=Observation(
            commit=commit,
            outcome=ProbeOutcome.ERROR,
            signature=f"{PROBE_RUN_ATTEMPTS} bisect-probe runs ended without a result",
        )
    )


def _await_probe(config: Config, probe_id: int, run_id: UUID) -> tuple[ProbeResult | None, str]:
    """The probe's stored result, or None and why its run ended without one."""
    with get_client(sync_client=True) as client:
        while True:
            claim = read_probe_claim(config, probe_id)
            if (result := stored_result(claim)) is not None:
                return result, ""
            run = client.read_flow_run(run_id)
            state, now = run.state, utcnow()
            if state is None or state.is_final():
                # It may have stored its result between the two reads.
                result = stored_result(read_probe_claim(config, probe_id))
                return result, f"ended {state.type.value if state else 'without a state'}"
            if state.is_scheduled():
                if run.created and now - run.created > PICKUP_TIMEOUT:
                    _give_up(client, run_id, Cancelled(message="no worker took the probe"))
                    return None, f"no worker took it within {PICKUP_TIMEOUT}"
            else:
                beats: list[datetime] = [state.timestamp]
                stale_after = STARTUP_GRACE
                if claim.owner == str(run_id) and claim.heartbeat_at is not None:
                    beats.append(claim.heartbeat_at)
                    stale_after = STALE_CLAIM_AFTER
                if now - max(beats) > stale_after:
                    message = f"its worker stopped: no probe heartbeat for {stale_after}"
                    _give_up(client, run_id, Crashed(message=message))
                    return None, message
            time.sleep(POLL_SECONDS)


def _give_up(client: SyncPrefectClient, run_id: UUID, state: object) -> None:
    client.set_flow_run_state(run_id, state, force=True)  # type: ignore[arg-type]
