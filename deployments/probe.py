"""The bisect-probe deployment: one probe of a distributed bisection (`[services.bisect]
distributed = true`), run by any worker on the pool. Bisections start its runs; people don't."""

from __future__ import annotations

from typing import cast

from prefect.deployments.runner import RunnerDeployment

from deployments.monitor import MONITOR_TAG
from flows.probe import bisect_probe


def probe_deployment() -> RunnerDeployment:
    deployment = bisect_probe.to_deployment(
        name="bisect-probe",  # tasks/probe_runs.py PROBE_DEPLOYMENT runs it
        tags=[MONITOR_TAG, "bisect-probe"],
        description="Build, test and health-check one commit for a distributed bisection "
        "(started by the bisect flow, one run per probe).",
    )
    return cast(RunnerDeployment, deployment)
