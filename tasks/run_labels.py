"""Run labels: the name and tags a flow run shows in the Prefect UI's runs list, so one click
on `service:<name>` filters one service's story."""

from __future__ import annotations

from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.exceptions import PrefectHTTPStatusError
from prefect.runtime import flow_run

from tasks.retry import TaskPolicy, retry_when_raised

LABEL_TASK = TaskPolicy(
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=retry_when_raised(httpx.TransportError, PrefectHTTPStatusError),
)


def run_tags(service: str, kind: str) -> list[str]:
    """`service:<name>` and `build-monitor:<kind>` (monitor, check, bisect, rollback, ...)."""
    return [f"service:{service}", f"build-monitor:{kind}"]


@LABEL_TASK(task_run_name="label-flow-run")
def label_flow_run(tags: list[str], name: str | None = None) -> None:
    """Add `tags` to the current flow run (keeping its deployment's), and rename it: one API
    call, the run's current tags coming from its context."""
    run_id = flow_run.get_id()
    if run_id is None:
        return
    merged = sorted(set(flow_run.get_tags()) | set(tags))
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(str(run_id)), name=name, tags=merged)
