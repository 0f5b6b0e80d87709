"""One rollback, emergency rollback or deploy, as a state machine: choose the target, decide
with the gates, change the service (redeploy, revert or both) so that a failed step undoes the
earlier ones, verify it, and record every step.

It knows no orchestrator: what runs each step, holds the per-service lock, undoes on failure
and sends notifications is the `RollbackShell` it is given (Prefect tasks, in production).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from build_monitor.builders.docker import image_tag
from build_monitor.builders.registry import RegistryImage
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.errors import InvalidInputError
from build_monitor.git.repo import CommitInfo, commit_info, resolve_commit
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build, BuildStatus, Rollback, RollbackStatus
from build_monitor.history.reports import BuildReport
from build_monitor.notifications.config import EventName
from build_monitor.notifications.events import NotificationEvent, RollbackInfo
from build_monitor.rollback import targets
from build_monitor.rollback.failures import RollbackRefused, RollbackStepFailed, ServiceBusy
from build_monitor.rollback.gates import Decision, GateInput, decide, kill_switch_value_is_on
from build_monitor.rollback.git_revert import RevertAttempt
from build_monitor.rollback.journal import RollbackJournal
from build_monitor.rollback.live_container import Handover, LiveState, live_tag
from build_monitor.rollback.outcome import RollbackReport
from build_monitor.rollback.plan import RollbackRequest, planned_steps, redeploy_problem
from build_monitor.rollback.progress import ProgressHook, ReportingJournal
from build_monitor.rollback.strategies import Change, redeploy, revert
from build_monitor.validation import validate_ref

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


class RollbackShell(Protocol):
    """What a run asks of its orchestrator. Steps that change something journal themselves in
    the given journal; `undo_on_failure` undoes the steps made inside it when one raises."""

    logger: Logger
    flow_run_id: str | None

    def recover(self) -> None: ...
    def fetch(self) -> Path: ...
    def check_commit(self, mirror: Path, info: CommitInfo, trigger: str) -> BuildReport: ...
    def read_variable(self, name: str) -> Any: ...
    def exclusive(self) -> AbstractContextManager[None]: ...
    def undo_on_failure(self) -> AbstractContextManager[object]: ...
    def notify(self, event: NotificationEvent) -> None: ...
    # redeploy
    def read_live(self) -> LiveState: ...
    def find_image(self, image: str) -> str | None: ...
    def check_candidate(self, image: str, commit: str) -> StepResult: ...
    def move_live_tag(self, journal: RollbackJournal, image: str) -> None: ...
    def hand_over(self, journal: RollbackJournal, image: str, commit: str) -> Handover: ...
    def verify_live(self) -> StepResult: ...
    # registry (both None when no registry is configured)
    def pull_image(self, commit: str) -> RegistryImage | None: ...
    def push_live_tag(self, commit: str) -> RegistryImage | None: ...
    # revert
    def create_revert(
        self, journal: RollbackJournal, mirror: Path, culprit: str, head: str, message: str
    ) -> RevertAttempt: ...
    def create_restore(
        self, journal: RollbackJournal, mirror: Path, target: str, head: str, message: str
    ) -> RevertAttempt: ...
    def push_revert(
        self, journal: RollbackJournal, mirror: Path, sha: str, branch: str
    ) -> None: ...
    def read_remote_branch(self, mirror: Path, branch: str) -> str | None: ...


def kill_switch_state(config: Config, read_variable: Callable[[str], Any]) -> str | None:
    """Why automatic rollbacks are off, or None. An unreadable switch counts as on."""
    path = config.rollback.kill_switch_path()
    if path.exists():
        return f"kill switch file {path} exists"
    name = config.rollback.kill_switch_variable
    try:
        value = read_variable(name)
    except Exception as exc:
        return f"the Prefect variable {name} cannot be read ({type(exc).__name__}), so it is on"
    if kill_switch_value_is_on(value):
        return f"Prefect variable {name} = {value!r}"
    return None


class RollbackRun:
    """`on_progress` hears of every step as it is journaled (the progress artifact)."""

    def __init__(
        self,
        config: Config,
        request: RollbackRequest,
        shell: RollbackShell,
        on_progress: ProgressHook | None = None,
    ) -> None:
        self.config = config
        self.request = request
        self.shell = shell
        self.on_progress = on_progress
        self.service: ServiceConfig = config.service(request.service)
        self.uses_docker = request.strategy in ("redeploy", "both")
        self.uses_git = request.strategy in ("revert", "both")
        self.journal = RollbackJournal(config.database_url, 0)
        self.mirror = Path()
        self.head = ""
        self.verifications: list[tuple[bool, str]] = []

    # -- facts

    def live_commit(self) -> str | None:
        return self.shell.read_live().commit if self.uses_docker else None

    def latest_build(self, commit: str) -> Build | None:
        with session_scope(self.config.database_url) as session:
            return crud.latest_final_build_for_commit(
                session=session, service=self.service.name, commit=commit
            )

    def check(self, commit: str, trigger: str = "rollback") -> tuple[bool, str, BuildReport]:
        """Build, test and health-check a commit: (passed, one-line detail, report)."""
        report = self.shell.check_commit(self.mirror, commit_info(self.mirror, commit), trigger)
        detail = f"{commit[:12]} {report.status}" + (
            f" at {report.stage}: {report.signature}" if report.stage else ""
        )
        return report.status == "passed", detail, report

    def verified(self, passed: bool, detail: str) -> None:
        self.verifications.append((passed, detail))

    def _decide(self, target: str) -> Decision:
        request, settings = self.request, self.service.rollback
        build = self.latest_build(target)
        facts = GateInput(
            automatic=request.automatic,
            now=datetime.now(UTC),
            target_passes=None if build is None else build.status == BuildStatus.passed,
            target_failure=build.signature if build is not None else None,
            max_auto_per_day=settings.max_auto_per_day,
            max_culprit_age=timedelta(hours=settings.max_culprit_age_hours),
            culprit=request.culprit,
            culprit_committed_at=request.culprit_committed_at,
        )
        if not request.automatic:
            return decide(facts)
        with session_scope(self.config.database_url) as session:
            used = crud.count_automatic_rollbacks(
                session=session,
                service=self.service.name,
                since=datetime.now(UTC) - timedelta(days=1),
            )
            earlier = (
                crud.automatic_rollback_for_culprit(
                    session=session, service=self.service.name, culprit=request.culprit
                )
                if request.culprit
                else None
            )
        return decide(
            replace(
                facts,
                kill_switch=kill_switch_state(self.config, self.shell.read_variable),
                automatic_today=used,
                already_rolled_back=f"#{earlier.id} {earlier.status.value}" if earlier else None,
            )
        )

    # -- the run

    def execute(self) -> RollbackReport:
        request, service = self.request, self.service
        if self.uses_docker and (problem := redeploy_problem(service)):
            raise InvalidInputError(problem)
        if self.uses_git and request.action == "emergency":
            raise InvalidInputError("an emergency rollback redeploys; it never reverts")
        self.shell.recover()
        self.mirror = self.shell.fetch()
        self.head = commit_info(self.mirror, f"refs/heads/{service.branch}").sha
        if request.culprit is not None:
            validate_ref(request.culprit)
            culprit = resolve_commit(self.mirror, request.culprit)
            committed_at = (
                request.culprit_committed_at or commit_info(self.mirror, culprit).committed_at
            )
            request = self.request = replace(
                request, culprit=culprit, culprit_committed_at=committed_at
            )
        target = targets.resolve_target(
            self.config, request, self.mirror, self.head, live_commit=self.live_commit
        )
        decision = self._decide(target)
        dry_run = request.dry_run or service.rollback.dry_run
        self._open_record(target, decision, dry_run)
        self.shell.logger.info(
            "%s: %s %s to %s (%s), gates: %s",
            service.name,
            request.action,
            "planned" if dry_run else "starting",
            target[:12],
            request.strategy,
            "passed" if decision.allowed else decision.refusal,
        )
        if not decision.allowed:
            return self._refused(decision.refusal or "refused")
        if dry_run:
            return self._dry_run(target)
        try:
            with self.shell.exclusive():
                return self._change(target)
        except ServiceBusy as exc:
            return self._refused(str(exc))

    def _open_record(self, target: str, decision: Decision, dry_run: bool) -> None:
        request = self.request
        gates = [
            {"gate": v.gate, "passed": v.passed, "detail": v.detail} for v in decision.verdicts
        ]
        opened = RollbackJournal.open(
            self.config.database_url,
            Rollback(
                service=self.service.name,
                action=request.action,
                strategy=request.strategy,
                trigger=request.trigger,
                triggered_by=request.triggered_by,
                reason=request.reason,
                # What is live now; a redeploy records what it actually replaced, under the lock.
                from_commit=self.live_commit() if self.uses_docker else self.head,
                to_commit=target,
                culprit=request.culprit,
                dry_run=dry_run,
                automatic=request.automatic,
                gates=json.dumps(gates),
                flow_run_id=self.shell.flow_run_id,
            ),
        )
        planned = 0 if dry_run or not decision.allowed else len(self._plan(target))
        self.journal = ReportingJournal(
            opened.database_url, opened.rollback_id, self.on_progress, planned
        )

    def _finish(self, status: RollbackStatus, error: str | None = None) -> RollbackReport:
        if not self.verifications:
            return self.journal.finish(status, error)
        failed = any(not passed for passed, _ in self.verifications)
        return self.journal.finish(
            status,
            error,
            verification="failed" if failed else "passed",
            verification_detail="; ".join(detail for _, detail in self.verifications),
        )

    def _refused(self, reason: str) -> RollbackReport:
        self.shell.logger.warning("%s: rollback refused: %s", self.service.name, reason)
        outcome = self._finish(RollbackStatus.refused, reason)
        if self.request.automatic:
            self._notify("rollback_failed", outcome)
        return outcome

    def _plan(self, target: str) -> list[tuple[str, str]]:
        return planned_steps(
            self.service,
            self.request,
            target,
            self.head,
            needs_build=self.latest_build(target) is None,
            image=image_tag(self.service.name, target),
            live_tag=live_tag(self.service.name),
        )

    def _dry_run(self, target: str) -> RollbackReport:
        for name, detail in self._plan(target):
            self.journal.record(name, "planned", detail)
        return self._finish(RollbackStatus.dry_run)

    def _change(self, target: str) -> RollbackReport:
        self._notify("rollback_started", self.journal.outcome())
        try:
            self._verify_target(target)
            changes: list[Change] = []
            if self.uses_docker:
                changes.append(redeploy(self, target))
            if self.uses_git:
                changes.append(revert(self, target))
        except RollbackRefused as exc:
            return self._refused(str(exc))
        except RollbackStepFailed as exc:
            self.shell.logger.error("%s: ROLLBACK FAILED: %s", self.service.name, exc)
            outcome = self._finish(RollbackStatus.failed, str(exc))
            self._notify("rollback_failed", outcome)
            return outcome
        except BaseException as exc:
            self.shell.logger.error("%s: rollback interrupted: %s", self.service.name, exc)
            self._finish(RollbackStatus.failed, f"{type(exc).__name__}: {exc}")
            raise
        noop = all(change == "noop" for change in changes)
        outcome = self._finish(RollbackStatus.noop if noop else RollbackStatus.succeeded)
        if not noop:
            self._notify("rollback_succeeded", outcome)
        return outcome

    def _verify_target(self, target: str) -> None:
        if self.latest_build(target) is not None:
            return
        passed, detail, _ = self.check(target)
        self.journal.record("verify_target", "done" if passed else "failed", detail)
        if not passed:
            raise RollbackRefused(f"target_passes: the target commit does not pass: {detail}")

    def _notify(self, event: EventName, outcome: RollbackReport) -> None:
        self.shell.notify(
            NotificationEvent(
                event=event,
                service=self.service.name,
                commit=outcome.to_commit,
                branch=self.service.branch,
                rollback=RollbackInfo(
                    from_commit=outcome.from_commit,
                    to_commit=outcome.to_commit or "",
                    strategy=outcome.strategy,
                    reason=outcome.reason,
                    error=outcome.error,
                ),
                flow_run_id=outcome.flow_run_id,
                dedup_suffix=str(outcome.rollback_id),
            )
        )
