"""The three ways to change a live service, one row each: the flow, its deployment and the CLI
command share the row's name (a contract: extend, never rename)."""

from __future__ import annotations

from dataclasses import dataclass

from build_monitor.rollback.config import Strategy
from build_monitor.rollback.plan import Action


@dataclass(frozen=True)
class ActionSpec:
    action: Action
    # The flow's name, its deployment's name and the CLI command.
    name: str
    description: str
    # None: the service's [rollback] strategy unless the caller gives one.
    fixed_strategy: Strategy | None
    # The flow's parameters beyond service, reason, dry_run, trigger, triggered_by, config_path.
    parameters: tuple[str, ...]

    @property
    def deployment(self) -> str:
        """`flow/deployment`, as `run_deployment` names it."""
        return f"{self.name}/{self.name}"


ROLLBACK = ActionSpec(
    action="rollback",
    name="rollback",
    description=(
        "Roll a service back to a good commit (redeploy its image, push a tested revert, or "
        "both), verify it, and record it."
    ),
    fixed_strategy=None,
    parameters=("commit", "strategy", "culprit", "culprit_committed_at"),
)
EMERGENCY = ActionSpec(
    action="emergency",
    name="emergency-rollback",
    description="Redeploy a service's last known good build now, and verify it.",
    fixed_strategy="redeploy",
    parameters=(),
)
DEPLOY = ActionSpec(
    action="deploy",
    name="deploy",
    description="Run a passing commit as a service's live container.",
    fixed_strategy="redeploy",
    parameters=("commit",),
)
ACTIONS: tuple[ActionSpec, ...] = (ROLLBACK, EMERGENCY, DEPLOY)


def action_spec(action: Action) -> ActionSpec:
    return next(spec for spec in ACTIONS if spec.action == action)
