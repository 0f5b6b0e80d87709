"""Deployments built from config.toml: one polling monitor deployment per service, plus
`check-commit` for one-off checks with typed parameters in the Prefect UI's Run form.

`build-monitor start` serves these in-process; `python -m deployments.monitor --work-pool P`
registers them with a work pool so workers on other hosts run them."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment

from build_monitor.config import Config, ServiceConfig, load_config
from flows.check import check_commit
from flows.monitor import monitor

MONITOR_TAG = "build-monitor"


def monitor_deployment_name(service: ServiceConfig) -> str:
    return f"monitor-{service.name}"


PROJECT_DIR = Path(__file__).resolve().parent.parent


def monitor_deployment(
    service: ServiceConfig, config_path: str, flow: Flow[..., Any] = monitor
) -> RunnerDeployment:
    deployment = flow.to_deployment(
        name=monitor_deployment_name(service),
        interval=timedelta(seconds=service.poll_interval_seconds),
        parameters={"service": service.name, "config_path": config_path},
        tags=[MONITOR_TAG, f"service:{service.name}"],
        description=f"Polls {service.repo} ({service.branch}) and builds new commits.",
        # One monitor run per service at a time; a slow build makes the next poll wait.
        concurrency_limit=1,
    )
    return cast(RunnerDeployment, deployment)


def check_deployment(config_path: str, flow: Flow[..., Any] = check_commit) -> RunnerDeployment:
    deployment = flow.to_deployment(
        name="check-commit",
        parameters={"config_path": config_path},
        tags=[MONITOR_TAG],
        description="Build, test and health-check one commit of a service.",
    )
    return cast(RunnerDeployment, deployment)


def _config_path(config: Config) -> str:
    if config.source is None:
        raise ValueError("deployments need a config file on disk")
    return str(Path(config.source).resolve())


def all_deployments(config: Config) -> list[RunnerDeployment]:
    """For serving in this process (`build-monitor start`)."""
    config_path = _config_path(config)
    return [monitor_deployment(s, config_path) for s in config.services] + [
        check_deployment(config_path)
    ]


def _from_project(entrypoint: str) -> Flow[..., Any]:
    return cast(Flow[..., Any], Flow.from_source(source=str(PROJECT_DIR), entrypoint=entrypoint))


def register(config: Config, work_pool: str) -> list[str]:
    """Register every deployment with a work pool; its workers run the code from this project
    directory (a path every worker host must have, e.g. a shared checkout). Returns ids."""
    config_path = _config_path(config)
    monitor_flow = _from_project("flows/monitor.py:monitor")
    deployments = [monitor_deployment(s, config_path, monitor_flow) for s in config.services]
    deployments.append(check_deployment(config_path, _from_project("flows/check.py:check_commit")))
    return [str(d.apply(work_pool_name=work_pool)) for d in deployments]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--work-pool", required=True)
    args = parser.parse_args()
    for deployment_id in register(load_config(args.config), args.work_pool):
        print(deployment_id)


if __name__ == "__main__":
    main()
