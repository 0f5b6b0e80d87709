"""Deployments of the rollback, emergency-rollback and deploy flows, so a user can start them
from the Prefect UI's Run form with typed parameters. `build-monitor start` serves these."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment

from build_monitor.config import Config
from flows.rollback import deploy, emergency_rollback, rollback

ROLLBACK_TAG = "build-monitor"
PROJECT_DIR = Path(__file__).resolve().parent.parent


def _config_path(config: Config) -> str:
    if config.source is None:
        raise ValueError("deployments need a config file on disk")
    return str(Path(config.source).resolve())


def rollback_deployment(config_path: str, flow: Flow[..., Any] = rollback) -> RunnerDeployment:
    return cast(
        RunnerDeployment,
        flow.to_deployment(
            name="rollback",
            parameters={"config_path": config_path, "trigger": "ui"},
            tags=[ROLLBACK_TAG, "rollback"],
            description=(
                "Roll a service back to a good commit (redeploy its image, push a tested "
                "revert, or both), verify it, and record it."
            ),
        ),
    )


def emergency_rollback_deployment(
    config_path: str, flow: Flow[..., Any] = emergency_rollback
) -> RunnerDeployment:
    return cast(
        RunnerDeployment,
        flow.to_deployment(
            name="emergency-rollback",
            parameters={"config_path": config_path, "trigger": "ui"},
            tags=[ROLLBACK_TAG, "rollback"],
            description="Redeploy a service's last known good build now, and verify it.",
        ),
    )


def deploy_deployment(config_path: str, flow: Flow[..., Any] = deploy) -> RunnerDeployment:
    return cast(
        RunnerDeployment,
        flow.to_deployment(
            name="deploy",
            parameters={"config_path": config_path, "trigger": "ui"},
            tags=[ROLLBACK_TAG, "rollback"],
            description="Run a passing commit as a service's live container.",
        ),
    )


def rollback_deployments(config_path: str) -> list[RunnerDeployment]:
    """For serving in this process (`build-monitor start`): rollback/rollback,
    emergency-rollback/emergency-rollback and deploy/deploy."""
    return [
        rollback_deployment(config_path),
        emergency_rollback_deployment(config_path),
        deploy_deployment(config_path),
    ]


def _from_project(entrypoint: str) -> Flow[..., Any]:
    return cast(Flow[..., Any], Flow.from_source(source=str(PROJECT_DIR), entrypoint=entrypoint))


def register_rollback_deployments(config: Config, work_pool: str) -> list[str]:
    """Register them with a work pool (workers need this project directory). Returns ids."""
    config_path = _config_path(config)
    deployments = [
        rollback_deployment(config_path, _from_project("flows/rollback.py:rollback")),
        emergency_rollback_deployment(
            config_path, _from_project("flows/rollback.py:emergency_rollback")
        ),
        deploy_deployment(config_path, _from_project("flows/rollback.py:deploy")),
    ]
    return [str(d.apply(work_pool_name=work_pool)) for d in deployments]
