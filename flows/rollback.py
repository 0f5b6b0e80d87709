"""The rollback, emergency-rollback and deploy flows, and the calls other flows make.

A rollback decides (gates), then changes the service inside a Prefect transaction whose tasks
undo themselves when a later step fails, then verifies the result. Every run is recorded in
the history database with each step; only one runs per service at a time.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from prefect import flow, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.transactions import transaction
from prefect.variables import Variable
from prefect_docker import DockerHost

from blocks.git import GitCredentials
from build_monitor.builders.docker import image_tag
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig, load_config
from build_monitor.errors import InvalidInputError
from build_monitor.git.repo import commit_info, is_ancestor, is_on_branch, resolve_commit
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build, BuildStatus, Rollback, RollbackStatus
from build_monitor.notifications.config import EventName
from build_monitor.notifications.events import NotificationEvent, RollbackInfo
from build_monitor.rollback import git_revert
from build_monitor.rollback.config import Strategy
from build_monitor.rollback.gates import Decision, GateInput, decide, kill_switch_value_is_on
from build_monitor.rollback.outcome import RollbackOutcome
from build_monitor.rollback.plan import (
    Action,
    RollbackRequest,
    concurrency_limit_name,
    push_target,
    redeploy_problem,
    restore_message,
    revert_message,
)
from build_monitor.validation import validate_ref, validate_service_name
from flows.check import check_and_record, load_docker_host, load_git_credentials
from flows.notifying import BackgroundNotifier
from tasks.docker import check_image_health
from tasks.git import fetch_repository
from tasks.rollback import (
    create_restore_commit,
    create_revert_commit,
    find_image,
    hand_over_live_container,
    move_live_tag,
    push_revert,
    read_live_deployment,
    read_remote_branch,
    record_step,
    recover_interrupted_rollbacks,
    verify_live_container,
)

LEASE_SECONDS = 60  # the shortest Prefect allows: a killed run frees its slot this soon


class RollbackRefused(Exception):
    """A gate or a check said no; nothing was changed."""


class RollbackStepFailed(Exception):
    """A step or the verification failed; the transaction undid what had changed."""


# ---------------------------------------------------------------- inputs


def default_triggered_by(trigger: str) -> str:
    if trigger in ("cli", "demo"):
        return f"{getpass.getuser()}@{socket.gethostname()}"
    run_id = flow_run.get_id()
    return f"{trigger} (flow run {run_id})" if run_id else trigger


def kill_switch_state(config: Config) -> str | None:
    """Why automatic rollbacks are off, or None. An unreadable switch counts as on."""
    path = config.rollback.kill_switch_path()
    if path.exists():
        return f"kill switch file {path} exists"
    name = config.rollback.kill_switch_variable
    try:
        value = Variable.get(name, default=None)
    except Exception as exc:
        return f"the Prefect variable {name} cannot be read ({type(exc).__name__}), so it is on"
    if kill_switch_value_is_on(value):
        return f"Prefect variable {name} = {value!r}"
    return None


def ensure_concurrency_limit(name: str) -> None:
    """A global concurrency limit of one slot (created active; Prefect would create it
    inactive, which limits nothing)."""
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
                )
            return
        if existing.limit != 1 or not existing.active:
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(limit=1, active=True)
            )


# ---------------------------------------------------------------- one run


class _Run:
    def __init__(self, config: Config, request: RollbackRequest) -> None:
        self.config = config
        self.request = request
        self.service: ServiceConfig = config.service(request.service)
        self.logger = get_run_logger()
        self.notifier = BackgroundNotifier(config)
        self.uses_docker = request.strategy in ("redeploy", "both")
        self.uses_git = request.strategy in ("revert", "both")
        self.docker_host: DockerHost | None = None
        self.credentials: GitCredentials | None = load_git_credentials(self.service)
        self.rollback_id = 0
        self.mirror = Path()
        self.head = ""
        self.verifications: list[tuple[str, str]] = []

    # -- the record

    def _update(self, **fields: Any) -> None:
        with session_scope(self.config.database_url) as session:
            record = session.get(Rollback, self.rollback_id)
            assert record is not None
            for name, value in fields.items():
                setattr(record, name, value)
            session.add(record)

    def _finish(self, status: RollbackStatus, error: str | None = None) -> RollbackOutcome:
        verification, detail = self._verification()
        with session_scope(self.config.database_url) as session:
            crud.finish_rollback(
                session=session,
                rollback_id=self.rollback_id,
                status=status,
                error=error,
                verification=verification,
                verification_detail=detail,
            )
            record = session.get(Rollback, self.rollback_id)
            assert record is not None
            steps = crud.list_rollback_steps(session=session, rollback_id=self.rollback_id)
            return RollbackOutcome.from_record(record, steps)

    def _verification(self) -> tuple[str | None, str | None]:
        if not self.verifications:
            return None, None
        failed = [detail for status, detail in self.verifications if status == "failed"]
        status = "failed" if failed else "passed"
        return status, "; ".join(detail for _, detail in self.verifications)

    def _verified(self, passed: bool, detail: str) -> None:
        self.verifications.append(("passed" if passed else "failed", detail))

    def _step(self, name: str, status: str, detail: str) -> None:
        record_step(self.config, self.rollback_id, name, status, detail)

    # -- what to roll back to

    def _resolve_target(self) -> str:
        request, service = self.request, self.service
        if request.target is not None:
            validate_ref(request.target)
            sha = resolve_commit(self.mirror, request.target)
            if not is_on_branch(self.mirror, sha, service.branch):
                raise InvalidInputError(
                    f"{request.target} ({sha[:12]}) is not on {service.name}'s branch "
                    f"{service.branch}"
                )
            return sha
        if request.action == "deploy":
            return self.head
        live_commit = self._live_commit()
        with session_scope(self.config.database_url) as session:
            builds = crud.list_builds(session=session, service=service.name, limit=200)
            passing = [b.commit for b in builds if b.status == BuildStatus.passed]
        for commit in dict.fromkeys(passing):
            if commit == live_commit:
                continue
            if not is_on_branch(self.mirror, commit, service.branch):
                continue
            if live_commit and not is_ancestor(self.mirror, commit, live_commit):
                continue
            return commit
        raise InvalidInputError(
            f"{service.name} has no passing build older than the live one to go back to"
        )

    def _live_commit(self) -> str | None:
        if not self.uses_docker:
            return None
        assert self.docker_host is not None
        return read_live_deployment(self.docker_host, self.service).commit

    def _latest_build(self, commit: str) -> Build | None:
        with session_scope(self.config.database_url) as session:
            return crud.latest_final_build_for_commit(
                session=session, service=self.service.name, commit=commit
            )

    def _decide(self, target: str) -> Decision:
        request, settings = self.request, self.service.rollback
        build = self._latest_build(target)
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
        if request.automatic:
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
            facts = replace(
                facts,
                kill_switch=kill_switch_state(self.config),
                automatic_today=used,
                already_rolled_back=f"#{earlier.id} {earlier.status.value}" if earlier else None,
            )
        return decide(facts)

    # -- the run

    def execute(self) -> RollbackOutcome:
        request, service = self.request, self.service
        if self.uses_docker and (problem := redeploy_problem(service)):
            raise InvalidInputError(problem)
        if self.uses_git and request.action == "emergency":
            raise InvalidInputError("an emergency rollback redeploys; it never reverts")
        if self.uses_docker:
            self.docker_host = load_docker_host(self.config)
        recover_interrupted_rollbacks(self.config, service, self.docker_host, self.credentials)
        self.mirror = fetch_repository(service, self.config.cache_dir, self.credentials)
        self.head = commit_info(self.mirror, f"refs/heads/{service.branch}").sha
        if request.culprit is not None:
            validate_ref(request.culprit)
            culprit = resolve_commit(self.mirror, request.culprit)
            request = self.request = replace(request, culprit=culprit)
            if request.culprit_committed_at is None:
                committed_at = commit_info(self.mirror, culprit).committed_at
                request = self.request = replace(request, culprit_committed_at=committed_at)
        target = self._resolve_target()
        decision = self._decide(target)
        dry_run = request.dry_run or service.rollback.dry_run
        self._open_record(target, decision, dry_run)
        self.logger.info(
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
        name = concurrency_limit_name(service.name)
        ensure_concurrency_limit(name)
        try:
            with concurrency(
                name,
                occupy=1,
                timeout_seconds=service.rollback.lock_timeout_seconds,
                lease_duration=LEASE_SECONDS,
                strict=True,
            ):
                return self._change(target)
        except TimeoutError:
            return self._refused(
                f"another rollback of {service.name} is running (waited "
                f"{service.rollback.lock_timeout_seconds:g}s for it)"
            )

    def _open_record(self, target: str, decision: Decision, dry_run: bool) -> None:
        request = self.request
        from_commit = self._live_commit() if self.uses_docker else self.head
        gates = [
            {"gate": v.gate, "passed": v.passed, "detail": v.detail} for v in decision.verdicts
        ]
        with session_scope(self.config.database_url) as session:
            record = crud.start_rollback(
                session=session,
                rollback=Rollback(
                    service=self.service.name,
                    action=request.action,
                    strategy=request.strategy,
                    trigger=request.trigger,
                    triggered_by=request.triggered_by,
                    reason=request.reason,
                    from_commit=from_commit,
                    to_commit=target,
                    culprit=request.culprit,
                    dry_run=dry_run,
                    automatic=request.automatic,
                    gates=json.dumps(gates),
                    flow_run_id=str(flow_run.get_id()) if flow_run.get_id() else None,
                ),
            )
            assert record.id is not None
            self.rollback_id = record.id

    def _refused(self, reason: str) -> RollbackOutcome:
        self.logger.warning("%s: rollback refused: %s", self.service.name, reason)
        outcome = self._finish(RollbackStatus.refused, reason)
        if self.request.automatic:
            self._notify("rollback_failed", outcome)
        return outcome

    def _dry_run(self, target: str) -> RollbackOutcome:
        for name, detail in self._plan(target):
            self._step(name, "planned", detail)
        return self._finish(RollbackStatus.dry_run)

    def _plan(self, target: str) -> list[tuple[str, str]]:
        steps: list[tuple[str, str]] = []
        if self._latest_build(target) is None:
            steps.append(("verify_target", f"build, test and health-check {target[:12]} first"))
        if self.uses_docker:
            image = image_tag(self.service.name, target)
            steps += [
                ("check_candidate", f"start {image} beside the live container, health-check it"),
                ("move_live_tag", f"point build-monitor/{self.service.name}:live at {image}"),
                ("hand_over", "stop the old live container, start the new one on the live port"),
                ("verify_live", "health-check the live port"),
            ]
        if self.uses_git:
            what = (
                f"git revert {self.request.culprit[:12]}"
                if self.request.culprit
                else f"a commit restoring {target[:12]}"
            )
            branch = push_target(self.service, self.request.culprit or target)
            steps += [
                ("create_revert", f"{what} on top of {self.head[:12]}"),
                (
                    "build_revert",
                    f"build, test and health-check it with the {self.service.builder} builder",
                ),
                ("push_revert", f"push it to {branch} only if it passed"),
                ("verify_revert", f"check that {branch} holds the tested commit"),
            ]
        return steps

    def _change(self, target: str) -> RollbackOutcome:
        started = self._to_info(None)
        self._notify("rollback_started", started)
        try:
            self._verify_target(target)
            results: list[str] = []
            if self.uses_docker:
                results.append(self._redeploy(target))
            if self.uses_git:
                results.append(self._revert(target))
        except RollbackRefused as exc:
            return self._refused(str(exc))
        except RollbackStepFailed as exc:
            self.logger.error("%s: ROLLBACK FAILED: %s", self.service.name, exc)
            outcome = self._finish(RollbackStatus.failed, str(exc))
            self._notify("rollback_failed", outcome)
            return outcome
        except BaseException as exc:
            self.logger.error("%s: rollback interrupted: %s", self.service.name, exc)
            self._finish(RollbackStatus.failed, f"{type(exc).__name__}: {exc}")
            raise
        status = (
            RollbackStatus.noop if all(r == "noop" for r in results) else RollbackStatus.succeeded
        )
        outcome = self._finish(status)
        if status is RollbackStatus.succeeded:
            self._notify("rollback_succeeded", outcome)
        return outcome

    def _verify_target(self, target: str) -> None:
        build = self._latest_build(target)
        if build is not None:
            return
        info = commit_info(self.mirror, target)
        report = check_and_record(
            self.config, self.service, self.mirror, info, trigger="rollback", update_state=False
        )
        detail = f"{target[:12]} {report.status}" + (
            f" at {report.stage}: {report.signature}" if report.stage else ""
        )
        self._step("verify_target", "done" if report.status == "passed" else "failed", detail)
        if report.status != "passed":
            raise RollbackRefused(f"target_passes: the target commit does not pass: {detail}")

    # -- strategy: redeploy

    def _redeploy(self, target: str) -> str:
        service, docker_host = self.service, self.docker_host
        assert docker_host is not None
        image = image_tag(service.name, target)
        image_id = find_image(docker_host, image)
        live = read_live_deployment(docker_host, service)
        if (
            image_id is not None
            and live.running
            and live.commit == target
            and live.image_id == image_id
            and live.live_tag_image_id == image_id
        ):
            health = verify_live_container(docker_host, service)
            if health.passed:
                detail = (
                    f"bm-{service.name} already runs {target[:12]} and answers its health check"
                )
                self._step("check_live", "done", detail)
                self._verified(True, detail)
                return "noop"
        if image_id is None:
            info = commit_info(self.mirror, target)
            report = check_and_record(
                self.config, service, self.mirror, info, trigger="rollback", update_state=False
            )
            detail = f"{image} was pruned: rebuilt, {report.status}"
            self._step("rebuild_image", "done" if report.status == "passed" else "failed", detail)
            if report.status != "passed":
                raise RollbackRefused(
                    f"target_passes: {target[:12]} no longer passes: {report.signature}"
                )
        candidate = cast(StepResult, check_image_health(docker_host, service, image, target))
        if not candidate.passed:
            detail = f"the new container failed its health check: {candidate.signature}"
            self._step("check_candidate", "failed", detail)
            raise RollbackStepFailed(f"{detail}; the old container keeps serving")
        self._step("check_candidate", "done", f"{image} answered its health check")
        try:
            with transaction():
                move_live_tag(docker_host, self.config, service, self.rollback_id, image)
                hand_over_live_container(
                    docker_host, self.config, service, self.rollback_id, image, target
                )
                health = verify_live_container(docker_host, service)
                if not health.passed:
                    self._step("verify_live", "failed", str(health.signature))
                    raise RollbackStepFailed(
                        f"verification failed: the new live container is unhealthy "
                        f"({health.signature}); the previous one was restored"
                    )
                detail = f"bm-{service.name} runs {target[:12]} and answers its health check"
                self._step("verify_live", "done", detail)
                self._verified(True, detail)
        except RollbackStepFailed as exc:
            self._verified(False, str(exc))
            self._check_restored()
            raise
        except Exception as exc:
            self._check_restored()
            raise RollbackStepFailed(
                f"redeploy failed: {type(exc).__name__}: {exc}; what had changed was undone"
            ) from exc
        return "changed"

    def _check_restored(self) -> None:
        assert self.docker_host is not None
        live = read_live_deployment(self.docker_host, self.service)
        if live.container_id is None:
            self._step("check_restored", "done", "there was no live container before")
            return
        health = verify_live_container(self.docker_host, self.service)
        detail = f"the restored live container ({(live.commit or '?')[:12]}) " + (
            "answers its health check" if health.passed else f"is unhealthy: {health.signature}"
        )
        self._step("check_restored", "done" if health.passed else "failed", detail)
        if not health.passed:
            self.logger.error("%s: %s", self.service.name, detail)

    # -- strategy: revert

    def _revert(self, target: str) -> str:
        service, request = self.service, self.request
        branch = push_target(service, request.culprit or target)
        if request.culprit is not None:
            existing = git_revert.find_revert(
                self.mirror, request.culprit, request.culprit, f"refs/heads/{service.branch}"
            ) or git_revert.find_revert(
                self.mirror, request.culprit, request.culprit, f"refs/heads/{branch}"
            )
            if existing:
                return self._already_reverted(
                    f"{request.culprit[:12]} is already reverted by {existing[:12]}"
                )
        try:
            with transaction():
                if request.culprit is not None:
                    subject = commit_info(self.mirror, request.culprit).subject
                    attempt = create_revert_commit(
                        self.config,
                        service,
                        self.rollback_id,
                        self.mirror,
                        request.culprit,
                        self.head,
                        revert_message(request.culprit, subject, request.reason, request.trigger),
                    )
                else:
                    attempt = create_restore_commit(
                        self.config,
                        service,
                        self.rollback_id,
                        self.mirror,
                        target,
                        self.head,
                        restore_message(target, self.head, request.reason, request.trigger),
                    )
                if attempt.sha is None:
                    if attempt.already_reverted:
                        return self._already_reverted(attempt.detail)
                    raise RollbackStepFailed(f"revert not pushed: {attempt.detail}")
                self._update(revert_commit=attempt.sha)
                report = check_and_record(
                    self.config,
                    service,
                    self.mirror,
                    commit_info(self.mirror, attempt.sha),
                    trigger="rollback-revert",
                    update_state=False,
                )
                detail = f"{attempt.sha[:12]} {report.status}" + (
                    f" at {report.stage}: {report.signature}" if report.stage else ""
                )
                passed = report.status == "passed"
                self._step("build_revert", "done" if passed else "failed", detail)
                if not passed:
                    raise RollbackStepFailed(f"revert not pushed: it failed its build: {detail}")
                push_revert(
                    self.config,
                    service,
                    self.rollback_id,
                    self.mirror,
                    attempt.sha,
                    branch,
                    self.credentials,
                )
                self._update(pushed_ref=branch)
                pushed = read_remote_branch(service, self.mirror, branch, self.credentials)
                if pushed != attempt.sha:
                    self._step("verify_revert", "failed", f"{branch} is at {pushed}")
                    raise RollbackStepFailed(
                        f"verification failed: {branch} is at {(pushed or 'nothing')[:12]}, "
                        f"not the tested revert {attempt.sha[:12]}"
                    )
                detail = f"{branch} holds {attempt.sha[:12]}, whose build passed"
                self._step("verify_revert", "done", detail)
                self._verified(True, detail)
        except RollbackStepFailed as exc:
            self._update(pushed_ref=None)
            if str(exc).startswith("verification"):
                self._verified(False, str(exc))
            raise
        except Exception as exc:
            self._update(pushed_ref=None)
            raise RollbackStepFailed(
                f"revert failed: {type(exc).__name__}: {exc}; what had changed was undone"
            ) from exc
        return "changed"

    def _already_reverted(self, detail: str) -> str:
        self._step("check_revert", "done", detail)
        self._verified(True, detail)
        return "noop"

    # -- notifications

    def _to_info(self, outcome: RollbackOutcome | None) -> RollbackOutcome:
        if outcome is not None:
            return outcome
        with session_scope(self.config.database_url) as session:
            record = session.get(Rollback, self.rollback_id)
            assert record is not None
            return RollbackOutcome.from_record(record, [])

    def _notify(self, event: EventName, outcome: RollbackOutcome) -> None:
        self.notifier.send(
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

    def wait_for_notifications(self) -> None:
        self.notifier.wait()


def run_rollback(config: Config, request: RollbackRequest) -> RollbackOutcome:
    """Decide, change, verify and record one rollback (call inside a flow)."""
    run = _Run(config, request)
    try:
        return run.execute()
    finally:
        run.wait_for_notifications()


# ---------------------------------------------------------------- flows


def _as_state(outcome: RollbackOutcome) -> State[Any]:
    if outcome.ok:
        return Completed(message=outcome.summary(), data=outcome.to_json())
    return Failed(message=outcome.summary(), data=outcome.to_json())


def _run_name() -> str:
    parameters = flow_run.get_parameters()
    target = str(parameters.get("commit") or "last good")[:12]
    return f"{flow_run.get_flow_name()} {parameters.get('service')} -> {target}"


def _request(
    *,
    service: str,
    action: Action,
    strategy: Strategy,
    target: str | None,
    reason: str,
    trigger: str,
    triggered_by: str | None,
    culprit: str | None = None,
    culprit_committed_at: datetime | None = None,
    dry_run: bool = False,
) -> RollbackRequest:
    validate_service_name(service)
    return RollbackRequest(
        service=service,
        action=action,
        strategy=strategy,
        target=target,
        reason=reason.strip(),
        trigger=trigger,
        triggered_by=triggered_by or default_triggered_by(trigger),
        culprit=culprit,
        culprit_committed_at=culprit_committed_at,
        dry_run=dry_run,
    )


@flow(name="rollback", flow_run_name=_run_name, validate_parameters=True)
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
    config = load_config(Path(config_path) if config_path else None)
    service_config = config.service(service)
    if not reason.strip():
        raise InvalidInputError("a rollback needs a reason")
    request = _request(
        service=service,
        action="rollback",
        strategy=strategy or service_config.rollback.strategy,
        target=commit,
        reason=reason,
        trigger=trigger,
        triggered_by=triggered_by,
        culprit=culprit,
        culprit_committed_at=culprit_committed_at,
        dry_run=dry_run,
    )
    return _as_state(run_rollback(config, request))


@flow(name="emergency-rollback", flow_run_name=_run_name, validate_parameters=True)
def emergency_rollback(
    service: str,
    reason: str = "emergency rollback",
    dry_run: bool = False,
    trigger: str = "ui",
    triggered_by: str | None = None,
    config_path: str | None = None,
) -> State[Any]:
    """Right away, without bisecting: redeploy the last known good build and verify it."""
    config = load_config(Path(config_path) if config_path else None)
    config.service(service)
    request = _request(
        service=service,
        action="emergency",
        strategy="redeploy",
        target=None,
        reason=reason,
        trigger=trigger,
        triggered_by=triggered_by,
        dry_run=dry_run,
    )
    return _as_state(run_rollback(config, request))


@flow(name="deploy", flow_run_name=_run_name, validate_parameters=True)
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
    config = load_config(Path(config_path) if config_path else None)
    config.service(service)
    request = _request(
        service=service,
        action="deploy",
        strategy="redeploy",
        target=commit,
        reason=reason,
        trigger=trigger,
        triggered_by=triggered_by,
        dry_run=dry_run,
    )
    return _as_state(run_rollback(config, request))


def outcome_of(state: State[Any]) -> RollbackOutcome:
    """The RollbackOutcome a flow's final state carries (raises what a crashed flow raised)."""
    data = state.result(raise_on_failure=False)
    if isinstance(data, BaseException):
        raise data
    return RollbackOutcome.from_json(cast(dict[str, Any], data))


# ---------------------------------------------------------------- calls from Python


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
) -> RollbackOutcome:
    """Run the rollback, emergency-rollback or deploy flow (a subflow inside a flow) and return
    its outcome; never raises for a failed or refused rollback, only for bad input."""
    config_path = str(config.source) if config.source else None
    state: State[Any]
    if action == "emergency":
        state = emergency_rollback(
            service=service,
            reason=reason,
            dry_run=dry_run,
            trigger=trigger,
            triggered_by=triggered_by,
            config_path=config_path,
            return_state=True,
        )
    elif action == "deploy":
        state = deploy(
            service=service,
            commit=commit,
            reason=reason,
            dry_run=dry_run,
            trigger=trigger,
            triggered_by=triggered_by,
            config_path=config_path,
            return_state=True,
        )
    else:
        if commit is None:
            raise InvalidInputError("a rollback needs a target commit")
        state = rollback(
            service=service,
            commit=commit,
            reason=reason,
            strategy=strategy,
            culprit=culprit,
            culprit_committed_at=culprit_committed_at,
            dry_run=dry_run,
            trigger=trigger,
            triggered_by=triggered_by,
            config_path=config_path,
            return_state=True,
        )
    return outcome_of(state)


def maybe_auto_rollback(
    config: Config,
    service: str,
    culprit: str,
    last_good: str,
    culprit_committed_at: datetime | None = None,
    trigger: str = "bisect",
) -> RollbackOutcome | None:
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


def manual_rollback_hint(service: ServiceConfig, culprit: str, last_good: str) -> str:
    """For the culprit report when `auto = false`: the command that rolls back."""
    return (
        f'build-monitor rollback {service.name} {last_good[:12]} "culprit {culprit[:12]}" '
        f"--culprit {culprit[:12]}  (strategy: {service.rollback.strategy})"
    )
