"""The bisect deployment: start a bisection from the Prefect UI's Run form."""

from __future__ import annotations

from typing import cast

from prefect.deployments.runner import RunnerDeployment

from deployments.monitor import MONITOR_TAG
from flows.bisect import bisect


def bisect_deployment(config_path: str) -> RunnerDeployment:
    deployment = bisect.to_deployment(
        name="bisect",
        parameters={"config_path": config_path, "trigger": "ui"},
        tags=[MONITOR_TAG],
        description="Find the commit that broke a service (good defaults to the last pass).",
    )
    return cast(RunnerDeployment, deployment)
