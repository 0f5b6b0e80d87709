"""The rollback, emergency-rollback and deploy flows (one row each in
build_monitor.rollback.actions), and the calls other flows and the CLI make.

The run itself is build_monitor.rollback.run; these flows give it its Prefect shell (tasks,
a transaction that undoes, a per-service lock) and turn its outcome into the flow's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from prefect import Flow, flow
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from build_monitor.config import Config, load_config
from build_monitor.dashboard.render import StepState, rollback_progress, rollback_progress_key
from build_monitor.errors import InvalidInputError
from build_monitor.rollback.actions import DEPLOY, EMERGENCY, ROLLBACK, ActionSpec, action_spec
from build_monitor.rollback.config import Strategy
from build_monitor.rollback.outcome import RollbackReport
from build_monitor.rollback.plan import Action, RollbackRequest, new_request
from build_monitor.rollback.plan import manual_rollback_hint as manual_rollback_hint
from build_monitor.rollback.run import RollbackRun
from flows.notifying import BackgroundNotifier
from tasks.artifacts import publish_dashboard, report_progress, start_progress, update_progress
from tasks.rollback import record_pushed_revert
from tasks.rollback_shell import TaskShell
from tasks.run_labels import label_flow_run, run_tags


def _flow_run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def _run_name() -> str:
    parameters = flow_run.get_parameters()
    target = str(parameters.get("commit") or "last good")[:7]
    return f"{flow_run.get_flow_name()} {parameters.get('service')} -> {target}"


def _run(config: Config, spec: ActionSpec, **request: Any) -> State[Any]:
    """Run one request of `spec`'s kind in this flow; its outcome is the flow's state."""
    service = config.service(request.pop("service"))
    checked: RollbackRequest = new_request(
        service, action=spec.action, flow_run_id=_flow_run_id(), **request
    )
    label_flow_run(run_tags(service.name, spec.name), return_state=True)
    progress_id = start_progress(
        rollback_progress_key(service.name), rollback_progress([], planned=0, finished=None)
    )

    def step_progress(steps: Sequence[StepState], planned: int) -> None:
        report_progress(progress_id, rollback_progress(steps, planned=planned, finished=None))

    notifier = BackgroundNotifier(config)
    shell = TaskShell(config, service, notify=notifier.send, flow_run_id=_flow_run_id())
    try:
        outcome = RollbackRun(config, checked, shell, on_progress=step_progress).execute()
    finally:
        notifier.wait()
    if outcome.status == "succeeded" and outcome.rollback_id is not None:
        # A verified revert pushed onto the branch: its passing build makes the service green.
        # Its own failure (logged by Prefect) leaves the state to the next build, and the
        # rollback's outcome as it is.
        record_pushed_revert(config, outcome.rollback_id, return_state=True)
    steps = [StepState(step.name, step.status) for step in outcome.steps]
    update_progress(
        progress_id, rollback_progress(steps, planned=len(steps), finished=outcome.status)
    )
    publish_dashboard(config, service)
    if outcome.ok:
        return Completed(message=outcome.summary(), data=outcome.to_json())
    return Failed(message=outcome.summary(), data=outcome.to_json())


def _config(config_path: str | None) -> Config:
    return load_config(Path(config_path) if config_path else None)


@flow(name=ROLLBACK.name, flow_run_name=_run_name, validate_parameters=True)
def rollback(
    service: str,
    commit: str,
    reason: str,
    strategy: Literal["redeploy", "revert", "both"] | None = None,
    culprit: str | None = None,
    culprit_committed_at: datetime | None = None,
    dry_run: bool = False,
    trigger: str = "ui",
    triggered_by: str | None = None,
    config_path: str | None = None,
) -> State[Any]:
    """Roll a service back to COMMIT (which must be on its branch and pass), with the
    service's strategy unless one is given; `culprit` makes a revert undo that commit only."""
    return _run(
        _config(config_path),
        ROLLBACK,
        service=service,
        strategy=strategy,
        target=commit,
        reason=reason,
        trigger=trigger,
        triggered_by=triggered_by,
        culprit=culprit,
        culprit_committed_at=culprit_committed_at,
        dry_run=dry_run,
    )


@flow(name=EMERGENCY.name, flow_run_name=_run_name, validate_parameters=True)
def emergency_rollback(
    service: str,
    reason: str = "emergency rollback",
    dry_run: bool = False,
    trigger: str = "ui",
    triggered_by: str | None = None,
    config_path: str | None = None,
) -> State[Any]:
    """Right away, without bisecting: redeploy the last known good build and verify it."""
    return _run(
        _config(config_path),
        EMERGENCY,
        service=service,
        strategy=EMERGENCY.fixed_strategy,
        target=None,
        reason=reason,
        trigger=trigger,
        triggered_by=triggered_by,
        dry_run=dry_run,
    )


@flow(name=DEPLOY.name, flow_run_name=_run_name, validate_parameters=True)
def deploy(
    service: str,
    commit: str | None = None,
    reason: str = "deploy",
    dry_run: bool = False,
    trigger: str = "ui",
    triggered_by: str | None = None,
    config_path: str | None = None,
) -> State[Any]:
    """Run COMMIT (default: the branch head) as the service's live container, once it passes."""
    return _run(
        _config(config_path),
        DEPLOY,
        service=service,
        strategy=DEPLOY.fixed_strategy,
        target=commit,
        reason=reason,
        trigger=trigger,
        triggered_by=triggered_by,
        dry_run=dry_run,
    )


FLOWS: dict[Action, Flow[..., State[Any]]] = {
    ROLLBACK.action: rollback,
    EMERGENCY.action: emergency_rollback,
    DEPLOY.action: deploy,
}


def outcome_of(state: State[Any]) -> RollbackReport:
    """The RollbackReport a flow's final state carries (raises what a crashed flow raised)."""
    data = state.result(raise_on_failure=False)
    if isinstance(data, BaseException):
        raise data
    return RollbackReport.from_json(cast(dict[str, Any], data))


def rollback_service(
    config: Config,
    service: str,
    *,
    commit: str | None = None,
    reason: str,
    action: Action = "rollback",
    strategy: Strategy | None = None,
    culprit: str | None = None,
    culprit_committed_at: datetime | None = None,
    dry_run: bool = False,
    trigger: str = "cli",
    triggered_by: str | None = None,
) -> RollbackReport:
    """Run the rollback, emergency-rollback or deploy flow (a subflow inside a flow) and return
    its outcome; never raises for a failed or refused rollback, only for bad input."""
    spec = action_spec(action)
    if spec is ROLLBACK and commit is None:
        raise InvalidInputError("a rollback needs a target commit")
    optional = {
        "commit": commit,
        "strategy": strategy,
        "culprit": culprit,
        "culprit_committed_at": culprit_committed_at,
    }
    state = FLOWS[action](
        service=service,
        reason=reason,
        dry_run=dry_run,
        trigger=trigger,
        triggered_by=triggered_by,
        config_path=str(config.source) if config.source else None,
        return_state=True,
        **{name: value for name, value in optional.items() if name in spec.parameters},
    )
    return outcome_of(state)


def maybe_auto_rollback(
    config: Config,
    service: str,
    culprit: str,
    last_good: str,
    culprit_committed_at: datetime | None = None,
    trigger: str = "bisect",
) -> RollbackReport | None:
    """What the bisect flow calls for a confirmed culprit: None when the service has
    `auto = false`; else the rollback's outcome (the gates may have refused it). Never loops:
    an automatic rollback of the same culprit runs once, and the daily limit caps the rest."""
    if not config.service(service).rollback.auto:
        return None
    return rollback_service(
        config,
        service,
        commit=last_good,
        reason=f"automatic rollback: bisect confirmed {culprit[:12]} as the culprit",
        culprit=culprit,
        culprit_committed_at=culprit_committed_at,
        trigger=trigger,
    )
