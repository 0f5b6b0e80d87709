"""Deployments of the rollback, emergency-rollback and deploy flows, so a user can start them
from the Prefect UI's Run form with typed parameters. `build-monitor start` serves these."""

from __future__ import annotations

from typing import Any, cast

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment

from flows.rollback import deploy, emergency_rollback, rollback

ROLLBACK_TAG = "build-monitor"


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
