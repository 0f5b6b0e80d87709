"""Deployments built from config.toml: one polling monitor deployment per service, plus
`check-commit` for one-off checks with typed parameters in the Prefect UI's Run form."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment

from build_monitor.config import Config, ServiceConfig
from build_monitor.webhooks.events import monitor_deployment_name
from flows.check import check_commit
from flows.monitor import monitor

MONITOR_TAG = "build-monitor"


def monitor_deployment(
    service: ServiceConfig, config_path: str, flow: Flow[..., Any] = monitor
) -> RunnerDeployment:
    deployment = flow.to_deployment(
        name=monitor_deployment_name(service.name),
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
