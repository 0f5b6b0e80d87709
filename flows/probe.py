"""The bisect-probe flow: one probe of a distributed bisection, run by whichever worker on the
pool takes it (deployments/probe.py). It fetches the service's repository on its own host,
claims the probe in the history database (returning the stored result when an earlier run of
the same probe already built it), holds one of the host's build slots while it builds, and
stores the result for the bisection to read."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from prefect import flow
from prefect.runtime import flow_run

from build_monitor.bisection.probe_request import ProbeRequest
from build_monitor.bisection.rounds import ProbeResult
from build_monitor.config import load_config
from build_monitor.history.probe_claims import STALE_CLAIM_AFTER, probe_heartbeat
from tasks.bisect import probe_commit
from tasks.blocks import load_git_credentials
from tasks.git import fetch_repository
from tasks.limits import build_slot
from tasks.probe_claims import claim_probe, release_probe, store_probe_result

PROBE_FLOW_NAME = "bisect-probe"


def _probe_run_name() -> str:
    return ProbeRequest.model_validate(flow_run.get_parameters()["request"]).run_name


def _owner() -> str:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else f"local-{uuid4()}"


@flow(name=PROBE_FLOW_NAME, flow_run_name=_probe_run_name, validate_parameters=True)
def bisect_probe(request: ProbeRequest) -> ProbeResult:
    """Build, test and health-check one commit for a bisection, at most once per probe."""
    config = load_config(Path(request.config_path) if request.config_path else None)
    service = config.service(request.service)
    owner = _owner()
    # Another live run of this probe may hold it for as long as one build can take.
    wait = service.build_timeout_seconds + STALE_CLAIM_AFTER.total_seconds()
    recorded = claim_probe(config, request.probe_id, owner, wait)
    if recorded is not None:
        return recorded
    try:
        with probe_heartbeat(config.database_url, request.probe_id, owner):
            mirror = fetch_repository(service, config.cache_dir, load_git_credentials(service))
            with build_slot(timeout_seconds=wait):
                result = probe_commit(
                    config,
                    service,
                    mirror,
                    request.commit,
                    request.bisection_id,
                    request.keep_checked_out,
                )
    except BaseException:
        release_probe(config, request.probe_id, owner)
        raise
    return store_probe_result(config, request.probe_id, owner, result)
