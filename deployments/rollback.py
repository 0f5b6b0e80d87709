"""Deployments of the rollback, emergency-rollback and deploy flows (one per row of
build_monitor.rollback.actions), so a user can start them from the Prefect UI's Run form with
typed parameters. `build-monitor start` serves these."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Literal, cast

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment

from build_monitor.rollback.actions import ACTIONS, ActionSpec
from flows.rollback import FLOWS

ROLLBACK_TAG = "build-monitor"
# What the Run form says under each field.
PARAMETER_DESCRIPTIONS = {
    "service": "The service, one of those configured in config.toml.",
    "commit": "The commit to go back to: a sha or ref on the service's branch whose build passed.",
    "reason": "Why: recorded with the rollback and sent in its notifications.",
    "dry_run": "Decide and record only; change nothing.",
    "strategy": "redeploy the commit's image, push a tested revert, or both (default: the "
    "service's configured strategy).",
    "culprit": "The commit that broke it: a revert then undoes only that commit.",
}


def with_service_choices(flow: Flow[..., Any], services: Sequence[str]) -> Flow[..., Any]:
    """A copy of `flow` whose deployment's Run form offers the configured services as choices
    and describes its fields. A deployment's parameter schema comes from its flow's signature;
    the copy keeps the flow's function, so the deployment still runs `flow` itself."""
    signature = inspect.signature(flow.fn, eval_str=True)
    service = signature.parameters["service"]
    if services:
        service = service.replace(annotation=Literal[tuple(services)])
    choices = flow.with_options()
    choices.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[service if p.name == "service" else p for p in signature.parameters.values()]
    )
    # Prefect takes each field's description from the docstring's Args section.
    described = [
        f"    {name}: {text}"
        for name, text in PARAMETER_DESCRIPTIONS.items()
        if name in signature.parameters
    ]
    choices.__doc__ = f"{inspect.getdoc(flow.fn)}\n\nArgs:\n" + "\n".join(described)
    return choices


def action_deployment(
    spec: ActionSpec, config_path: str, services: Sequence[str] = ()
) -> RunnerDeployment:
    return cast(
        RunnerDeployment,
        with_service_choices(FLOWS[spec.action], services).to_deployment(
            name=spec.name,
            parameters={"config_path": config_path, "trigger": "ui"},
            tags=[ROLLBACK_TAG, "rollback"],
            description=spec.description,
        ),
    )


def rollback_deployments(config_path: str, services: Sequence[str] = ()) -> list[RunnerDeployment]:
    """For serving in this process (`build-monitor start`): rollback/rollback,
    emergency-rollback/emergency-rollback and deploy/deploy; the Run form offers `services`."""
    return [action_deployment(spec, config_path, services) for spec in ACTIONS]
