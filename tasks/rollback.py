"""Rollback tasks: each changes one thing, journals how to undo it first, and undoes it in its
`on_rollback` hook when a later step of the transaction fails."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.transactions import Transaction, get_transaction
from prefect_docker import DockerHost

from blocks.git import GitCredentials
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import RollbackStatus, RollbackStep
from build_monitor.rollback import git_revert, live_container, recovery
from build_monitor.rollback.git_revert import RevertAttempt
from build_monitor.rollback.live_container import Handover, LiveState
from build_monitor.rollback.plan import revert_ref
from tasks.docker import docker_client

_JOURNAL_KEY = "build_monitor_journal"
_MUTATING = {"retries": 0, "cache_policy": NO_CACHE}
_internal_logger = logging.getLogger("build_monitor.rollback")


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except Exception:
        return _internal_logger


# ---------------------------------------------------------------- the journal


def begin_step(
    config: Config, rollback_id: int, name: str, undo: dict[str, Any] | None = None
) -> int:
    with session_scope(config.database_url) as session:
        step = crud.add_rollback_step(
            session=session,
            rollback_id=rollback_id,
            name=name,
            undo=json.dumps(undo) if undo is not None else None,
        )
        assert step.id is not None
        return step.id


def end_step(
    config: Config,
    step_id: int,
    status: str,
    detail: str | None = None,
    undo: dict[str, Any] | None = None,
) -> None:
    with session_scope(config.database_url) as session:
        crud.finish_rollback_step(
            session=session,
            step_id=step_id,
            status=status,
            detail=detail,
            undo=json.dumps(undo) if undo is not None else None,
        )


def record_step(config: Config, rollback_id: int, name: str, status: str, detail: str) -> None:
    """A step that changes nothing (a check), recorded as it ended."""
    with session_scope(config.database_url) as session:
        crud.add_rollback_step(
            session=session, rollback_id=rollback_id, name=name, status=status, detail=detail
        )


def _journal_for_hooks(
    config: Config,
    service: ServiceConfig,
    docker_host: DockerHost | None,
    credentials: GitCredentials | None,
    step_id: int,
    name: str,
    undo: dict[str, Any],
) -> None:
    transaction = get_transaction()
    if transaction is not None:
        transaction.set(
            _JOURNAL_KEY,
            {
                "config": config,
                "service": service,
                "docker_host": docker_host,
                "credentials": credentials,
                "step_id": step_id,
                "name": name,
                "undo": undo,
            },
        )


def undo_journaled_step(
    config: Config,
    service: ServiceConfig,
    step: RollbackStep,
    docker_host: DockerHost | None,
    credentials: GitCredentials | None,
) -> str:
    """Undo one journaled step and mark it `undone` (or `undo_failed`, loudly)."""
    assert step.id is not None
    undo = json.loads(step.undo or "{}")
    try:
        detail = recovery.undo_step(
            step.name,
            undo,
            service=service,
            docker_client=lambda: docker_client(docker_host or DockerHost()),
            git_auth=lambda: credentials.get_client() if credentials else None,
        )
    except Exception as exc:
        detail = f"undo failed: {type(exc).__name__}: {exc}"
        _logger().error("%s: undoing %s failed: %s", service.name, step.name, detail)
        end_step(config, step.id, "undo_failed", detail)
        raise
    _logger().warning("%s: undid %s: %s", service.name, step.name, detail)
    end_step(config, step.id, "undone", detail)
    return detail


def _undo_hook(transaction: Transaction) -> None:
    entry = transaction.get(_JOURNAL_KEY, None)
    if entry is None:
        return
    with session_scope(entry["config"].database_url) as session:
        step = session.get(RollbackStep, entry["step_id"])
    if step is None or step.status in ("undone", "undo_failed"):
        return
    undo_journaled_step(
        entry["config"], entry["service"], step, entry["docker_host"], entry["credentials"]
    )


def _discard_previous_hook(transaction: Transaction) -> None:
    entry = transaction.get(_JOURNAL_KEY, None)
    if entry is None:
        return
    handover = Handover.from_undo(entry["undo"])
    with docker_client(entry["docker_host"] or DockerHost()) as client:
        live_container.discard_previous(client, handover)


# ---------------------------------------------------------------- live container


@task(retries=1, retry_delay_seconds=2, timeout_seconds=60, cache_policy=NO_CACHE)
def read_live_deployment(docker_host: DockerHost, service: ServiceConfig) -> LiveState:
    with docker_client(docker_host) as client:
        return live_container.read_live_state(client, service.name)


@task(retries=1, retry_delay_seconds=2, timeout_seconds=60, cache_policy=NO_CACHE)
def find_image(docker_host: DockerHost, reference: str) -> str | None:
    with docker_client(docker_host) as client:
        return live_container.image_id(client, reference)


@task(timeout_seconds=120, task_run_name="live tag -> {image}", **_MUTATING)  # type: ignore[call-overload]
def move_live_tag(
    docker_host: DockerHost, config: Config, service: ServiceConfig, rollback_id: int, image: str
) -> str | None:
    with docker_client(docker_host) as client:
        previous = live_container.image_id(client, live_container.live_tag(service.name))
        undo = {"previous_image_id": previous}
        step_id = begin_step(config, rollback_id, recovery.STEP_MOVE_LIVE_TAG, undo)
        _journal_for_hooks(
            config, service, docker_host, None, step_id, recovery.STEP_MOVE_LIVE_TAG, undo
        )
        live_container.move_live_tag(client, service.name, image)
    end_step(config, step_id, "done", f"{live_container.live_tag(service.name)} -> {image}")
    return cast(str | None, previous)


move_live_tag.on_rollback(_undo_hook)


@task(timeout_seconds=600, task_run_name="hand over {service.name} -> {commit:.10}", **_MUTATING)  # type: ignore[call-overload]
def hand_over_live_container(
    docker_host: DockerHost,
    config: Config,
    service: ServiceConfig,
    rollback_id: int,
    image: str,
    commit: str,
) -> Handover:
    step: dict[str, int] = {}

    def journal(plan: Handover) -> None:
        undo = plan.to_undo()
        step["id"] = begin_step(config, rollback_id, recovery.STEP_HAND_OVER, undo)
        _journal_for_hooks(
            config, service, docker_host, None, step["id"], recovery.STEP_HAND_OVER, undo
        )

    with docker_client(docker_host) as client:
        try:
            handover = live_container.hand_over(
                client,
                service,
                image=image,
                commit=commit,
                suffix=str(rollback_id),
                on_plan=journal,
            )
        except Exception as exc:
            if "id" in step:
                end_step(config, step["id"], "failed", f"{type(exc).__name__}: {exc}")
            raise
    undo = handover.to_undo()
    _journal_for_hooks(
        config, service, docker_host, None, step["id"], recovery.STEP_HAND_OVER, undo
    )
    previous = f"stopped {handover.previous_name}" if handover.previous_id else "no previous one"
    end_step(
        config,
        step["id"],
        "done",
        f"started {image} as the live container ({previous})",
        undo,
    )
    return handover


hand_over_live_container.on_rollback(_undo_hook)
hand_over_live_container.on_commit(_discard_previous_hook)


@task(timeout_seconds=600, cache_policy=NO_CACHE, task_run_name="verify live {service.name}")
def verify_live_container(docker_host: DockerHost, service: ServiceConfig) -> StepResult:
    with docker_client(docker_host) as client:
        return live_container.check_live_health(client, service)


# ---------------------------------------------------------------- git revert


@task(timeout_seconds=600, task_run_name="revert {culprit:.10}", **_MUTATING)  # type: ignore[call-overload]
def create_revert_commit(
    config: Config,
    service: ServiceConfig,
    rollback_id: int,
    mirror: Path,
    culprit: str,
    head: str,
    message: str,
) -> RevertAttempt:
    undo = {"mirror": str(mirror), "ref": revert_ref(culprit)}
    step_id = begin_step(config, rollback_id, recovery.STEP_CREATE_REVERT, undo)
    _journal_for_hooks(config, service, None, None, step_id, recovery.STEP_CREATE_REVERT, undo)
    try:
        attempt = git_revert.create_revert(
            mirror,
            culprit=culprit,
            head=head,
            branch=service.branch,
            message=message,
            worktree_root=config.cache_dir / "worktrees",
        )
    except Exception as exc:
        end_step(config, step_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    end_step(config, step_id, "done" if attempt.sha else "failed", attempt.detail)
    return attempt


create_revert_commit.on_rollback(_undo_hook)


@task(timeout_seconds=120, task_run_name="restore {target:.10}", **_MUTATING)  # type: ignore[call-overload]
def create_restore_commit(
    config: Config,
    service: ServiceConfig,
    rollback_id: int,
    mirror: Path,
    target: str,
    head: str,
    message: str,
) -> RevertAttempt:
    undo = {"mirror": str(mirror), "ref": revert_ref(f"restore-{target}")}
    step_id = begin_step(config, rollback_id, recovery.STEP_CREATE_REVERT, undo)
    _journal_for_hooks(config, service, None, None, step_id, recovery.STEP_CREATE_REVERT, undo)
    attempt = git_revert.create_restore(mirror, target=target, head=head, message=message)
    end_step(config, step_id, "done" if attempt.sha else "failed", attempt.detail)
    return attempt


create_restore_commit.on_rollback(_undo_hook)


@task(timeout_seconds=600, task_run_name="push {sha:.10} -> {branch}", **_MUTATING)  # type: ignore[call-overload]
def push_revert(
    config: Config,
    service: ServiceConfig,
    rollback_id: int,
    mirror: Path,
    sha: str,
    branch: str,
    credentials: GitCredentials | None,
) -> str:
    undo = {
        "mirror": str(mirror),
        "repo_url": service.repo,
        "branch": branch,
        "sha": sha,
        "deletable": branch != service.branch,
    }
    step_id = begin_step(config, rollback_id, recovery.STEP_PUSH_REVERT, undo)
    _journal_for_hooks(config, service, None, credentials, step_id, recovery.STEP_PUSH_REVERT, undo)
    try:
        git_revert.push_commit(
            mirror,
            repo_url=service.repo,
            sha=sha,
            branch=branch,
            auth=credentials.get_client() if credentials else None,
        )
    except Exception as exc:
        end_step(config, step_id, "failed", str(exc))
        raise
    end_step(config, step_id, "done", f"pushed {sha[:12]} to {branch}")
    return branch


push_revert.on_rollback(_undo_hook)


@task(retries=2, retry_delay_seconds=2, timeout_seconds=120, cache_policy=NO_CACHE)
def read_remote_branch(
    service: ServiceConfig, mirror: Path, branch: str, credentials: GitCredentials | None
) -> str | None:
    return git_revert.remote_branch_sha(
        mirror,
        repo_url=service.repo,
        branch=branch,
        auth=credentials.get_client() if credentials else None,
    )


# ---------------------------------------------------------------- crash recovery


@task(timeout_seconds=600, cache_policy=NO_CACHE, task_run_name="recover {service.name}")
def recover_interrupted_rollbacks(
    config: Config,
    service: ServiceConfig,
    docker_host: DockerHost | None,
    credentials: GitCredentials | None,
) -> list[int]:
    """Undo the steps of rollbacks whose process died (on this host), newest step first, and
    mark them `interrupted`. Returns their ids."""
    recovered: list[int] = []
    with session_scope(config.database_url) as session:
        orphans = [r.id for r in crud.orphaned_rollbacks(session=session, service=service.name)]
    for rollback_id in orphans:
        assert rollback_id is not None
        with session_scope(config.database_url) as session:
            claimed = crud.claim_rollback(
                session=session,
                rollback_id=rollback_id,
                expected=RollbackStatus.running,
                new=RollbackStatus.interrupted,
            )
            steps = list(crud.list_rollback_steps(session=session, rollback_id=rollback_id))
        if not claimed:
            continue
        problems: list[str] = []
        for step in reversed(steps):
            if step.name not in recovery.UNDOABLE_STEPS or step.status not in ("running", "done"):
                continue
            try:
                undo_journaled_step(config, service, step, docker_host, credentials)
            except Exception as exc:
                problems.append(f"{step.name}: {exc}")
        with session_scope(config.database_url) as session:
            crud.finish_rollback(
                session=session,
                rollback_id=rollback_id,
                status=RollbackStatus.interrupted,
                error="the process running this rollback died; its steps were undone"
                + (f" except: {'; '.join(problems)}" if problems else ""),
            )
        _logger().warning("%s: recovered interrupted rollback #%s", service.name, rollback_id)
        recovered.append(rollback_id)
    return recovered
