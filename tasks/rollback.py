"""Rollback tasks: each changes one thing through build_monitor.rollback (which journals how to
undo it first) and undoes it in its `on_rollback` hook when a later step of the transaction
fails. The hooks find the journaled step through the task's transaction."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.transactions import Transaction, get_transaction
from prefect_docker import DockerHost

from blocks.git import GitCredentials
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.git.repo import GitAuth
from build_monitor.history import reverts
from build_monitor.history.db import session_scope
from build_monitor.rollback import live_container, recovery, steps
from build_monitor.rollback.git_revert import RevertAttempt, remote_branch_sha
from build_monitor.rollback.journal import RollbackJournal
from build_monitor.rollback.live_container import Handover, LiveState
from build_monitor.rollback.recovery import RecoveredRollback, Undoers
from tasks.blocks import load_docker_host, load_git_credentials
from tasks.docker import docker_client
from tasks.retry import DATABASE_TASK, is_infrastructure_failure

_UNDO_KEY = "build_monitor_undo"
_MUTATING = {"retries": 0, "cache_policy": NO_CACHE}
_READING = {
    "retries": 1,
    "retry_delay_seconds": 2,
    "retry_condition_fn": is_infrastructure_failure,
    "cache_policy": NO_CACHE,
}


def undoers(docker_host: DockerHost | None, credentials: GitCredentials | None) -> Undoers:
    return Undoers(
        docker_client=lambda: (
            docker_host.get_client() if docker_host else DockerHost().get_client()
        ),
        git_auth=lambda: credentials.get_client() if credentials else None,
    )


def _remember_undo(
    journal: RollbackJournal, service: ServiceConfig, step_id: int, how: Undoers
) -> None:
    transaction = get_transaction()
    if transaction is not None:
        transaction.set(_UNDO_KEY, (journal, service, step_id, how))


def _undo_hook(transaction: Transaction) -> None:
    entry = transaction.get(_UNDO_KEY, None)
    if entry is None:
        return
    journal, service, step_id, how = entry
    step = journal.read_step(step_id)
    if step is None or step.status in ("undone", "undo_failed"):
        return
    recovery.undo_journaled_step(journal, step, service, how, get_run_logger())


def _discard_previous_hook(transaction: Transaction) -> None:
    entry = transaction.get(_UNDO_KEY, None)
    if entry is None:
        return
    journal, _, step_id, how = entry
    step = journal.read_step(step_id)
    if step is not None and step.undo:
        with how.docker_client() as client:
            live_container.discard_previous(client, Handover.from_undo(json.loads(step.undo)))


# ---------------------------------------------------------------- live container


@task(timeout_seconds=60, **_READING)  # type: ignore[call-overload]
def read_live_deployment(docker_host: DockerHost, service: ServiceConfig) -> LiveState:
    with docker_client(docker_host) as client:
        return live_container.read_live_state(client, service.name)


@task(timeout_seconds=60, **_READING)  # type: ignore[call-overload]
def find_image(docker_host: DockerHost, reference: str) -> str | None:
    with docker_client(docker_host) as client:
        return live_container.image_id(client, reference)


@task(timeout_seconds=120, task_run_name="live tag -> {image}", **_MUTATING)  # type: ignore[call-overload]
def move_live_tag(
    docker_host: DockerHost, journal: RollbackJournal, service: ServiceConfig, image: str
) -> None:
    with docker_client(docker_host) as client:
        step = steps.move_live_tag(client, journal, service.name, image)
    _remember_undo(journal, service, step.id, undoers(docker_host, None))


move_live_tag.on_rollback(_undo_hook)


@task(timeout_seconds=600, task_run_name="hand over {service.name} -> {commit:.10}", **_MUTATING)  # type: ignore[call-overload]
def hand_over_live_container(
    docker_host: DockerHost,
    journal: RollbackJournal,
    service: ServiceConfig,
    image: str,
    commit: str,
) -> Handover:
    with docker_client(docker_host) as client:
        step, handover = steps.hand_over(client, journal, service, image=image, commit=commit)
    _remember_undo(journal, service, step.id, undoers(docker_host, None))
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
    journal: RollbackJournal,
    service: ServiceConfig,
    mirror: Path,
    culprit: str,
    head: str,
    message: str,
) -> RevertAttempt:
    step, attempt = steps.create_revert(
        journal,
        mirror,
        service,
        culprit=culprit,
        head=head,
        message=message,
        worktree_root=config.cache_dir / "worktrees",
    )
    _remember_undo(journal, service, step.id, undoers(None, None))
    return attempt


create_revert_commit.on_rollback(_undo_hook)


@task(timeout_seconds=120, task_run_name="restore {target:.10}", **_MUTATING)  # type: ignore[call-overload]
def create_restore_commit(
    journal: RollbackJournal,
    service: ServiceConfig,
    mirror: Path,
    target: str,
    head: str,
    message: str,
) -> RevertAttempt:
    step, attempt = steps.create_restore(journal, mirror, target=target, head=head, message=message)
    _remember_undo(journal, service, step.id, undoers(None, None))
    return attempt


create_restore_commit.on_rollback(_undo_hook)


@task(timeout_seconds=600, task_run_name="push {sha:.10} -> {branch}", **_MUTATING)  # type: ignore[call-overload]
def push_revert(
    journal: RollbackJournal,
    service: ServiceConfig,
    mirror: Path,
    sha: str,
    branch: str,
    credentials: GitCredentials | None,
) -> None:
    step = steps.push_revert(
        journal,
        mirror,
        service,
        sha=sha,
        branch=branch,
        auth=credentials.get_client() if credentials else None,
    )
    _remember_undo(journal, service, step.id, undoers(None, credentials))


push_revert.on_rollback(_undo_hook)


@task(timeout_seconds=120, **{**_READING, "retries": 2})  # type: ignore[call-overload]
def read_remote_branch(
    service: ServiceConfig, mirror: Path, branch: str, credentials: GitCredentials | None
) -> str | None:
    return remote_branch_sha(
        mirror,
        repo_url=service.repo,
        branch=branch,
        auth=credentials.get_client() if credentials else None,
    )


@DATABASE_TASK(task_run_name="record pushed revert of rollback {rollback_id}")
def record_pushed_revert(config: Config, rollback_id: int) -> str | None:
    """When the rollback pushed its tested revert onto the service's branch: that revert's
    passing build is the branch's newest, and the service is healthy. The revert's sha."""
    with session_scope(config.database_url) as session:
        build = reverts.record_pushed_revert(session=session, rollback_id=rollback_id)
        return build.commit if build else None


# ---------------------------------------------------------------- crash recovery


def _undoers_from_blocks(config: Config, service: ServiceConfig) -> Undoers:
    """Undoers that load the service's blocks only when a step needs them."""

    def git_auth() -> GitAuth | None:
        credentials = load_git_credentials(service)
        return credentials.get_client() if credentials else None

    return Undoers(docker_client=lambda: load_docker_host(config).get_client(), git_auth=git_auth)


@task(timeout_seconds=600, cache_policy=NO_CACHE, task_run_name="recover {service.name}")
def recover_service(config: Config, service: ServiceConfig) -> list[int]:
    """What a monitor run does first: put back the live container of a rollback whose process
    died mid-way (see `recover_all_services`)."""
    return recovery.recover_interrupted_rollbacks(
        config.database_url, service, _undoers_from_blocks(config, service), get_run_logger()
    )


def recover_all_services(config: Config) -> list[RecoveredRollback]:
    """Recover every service's interrupted rollbacks (their live containers serve again); for
    `build-monitor start` and `status`. Plain Python: needs a Prefect API only when a block
    must be loaded to undo a step."""
    return [
        RecoveredRollback(service=service.name, rollback_id=rollback_id)
        for service in config.services
        for rollback_id in recovery.recover_interrupted_rollbacks(
            config.database_url, service, _undoers_from_blocks(config, service)
        )
    ]
