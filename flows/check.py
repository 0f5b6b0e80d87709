"""The check-commit flow: build, test and health-check one commit, and record the result."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import cast

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import State
from prefect_docker import DockerHost

from blocks.git import GitCredentials
from build_monitor.builders.local import shared_target_dir
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig, load_config
from build_monitor.errors import InfrastructureError
from build_monitor.git.repo import CommitInfo
from build_monitor.git.worktrees import build_worktree
from build_monitor.history.models import BuildStatus
from build_monitor.history.reports import BuildReport
from tasks.docker import build_image, check_image_health, prune_service_images
from tasks.git import fetch_repository, resolve_commit_info
from tasks.history import record_build_result, record_build_start
from tasks.local import build_in_worktree, check_command_health


def load_docker_host(config: Config) -> DockerHost:
    if config.docker.host_block:
        return cast(DockerHost, DockerHost.load(config.docker.host_block))
    return DockerHost()


def load_git_credentials(service: ServiceConfig) -> GitCredentials | None:
    if service.git_credentials_block:
        return cast(GitCredentials, GitCredentials.load(service.git_credentials_block))
    return None


def _result_of(state: State, attempts: int) -> StepResult:
    """A task's StepResult, or an `error` result when infrastructure failures exhausted it."""
    try:
        return cast(StepResult, state.result())
    except InfrastructureError as exc:
        return StepResult(status=BuildStatus.error, signature=str(exc), attempts=attempts)


def probe(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    commit: str,
    keep_checked_out: Collection[str] = (),
) -> StepResult:
    """Build, test and health-check `commit` in a worktree slot of its own (inside a flow);
    slots holding `keep_checked_out` commits are reused last."""
    attempts = service.retries + 1
    timeout = service.build_timeout_seconds + 120
    root = config.cache_dir / "worktrees"
    with build_worktree(mirror, commit, root=root, keep=keep_checked_out) as worktree:
        if service.builder == "docker":
            docker_host = load_docker_host(config)
            state = build_image.with_options(retries=service.retries, timeout_seconds=timeout)(
                docker_host, service, worktree, commit, return_state=True
            )
            built = _result_of(state, attempts)
            if not built.passed or service.health is None or built.image is None:
                return built
            state = check_image_health.with_options(retries=service.retries)(
                docker_host, service, built.image, commit, return_state=True
            )
            checked = _result_of(state, attempts)
            return _combine(built, checked)
        # One target dir per worktree slot: cargo's fingerprints trust the recorded source
        # paths, so two live worktrees must never share one.
        target = shared_target_dir(config.cache_dir, service.name) / worktree.name
        state = build_in_worktree.with_options(retries=service.retries, timeout_seconds=timeout)(
            service, worktree, commit, target, return_state=True
        )
        built = _result_of(state, attempts)
        if not built.passed or service.health is None:
            return built
        state = check_command_health.with_options(retries=service.retries)(
            service, worktree, commit, return_state=True
        )
        return _combine(built, _result_of(state, attempts))


def _combine(built: StepResult, checked: StepResult) -> StepResult:
    return StepResult(
        status=checked.status,
        stage=checked.stage,
        signature=checked.signature,
        log_excerpt=checked.log_excerpt,
        image=built.image,
        duration_s=built.duration_s + checked.duration_s,
        attempts=max(built.attempts, checked.attempts),
    )


def check_and_record(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    info: CommitInfo,
    *,
    trigger: str,
    update_state: bool = True,
    keep_checked_out: Collection[str] = (),
) -> BuildReport:
    """Record a build as running, probe it, record the result (also when interrupted)."""
    build_id = record_build_start(config, service, info, trigger, _current_flow_run_id())
    result = StepResult(status=BuildStatus.interrupted, signature="interrupted")
    try:
        result = probe(config, service, mirror, info.sha, keep_checked_out)
    finally:
        build = record_build_result(config, build_id, result, update_state)
    if service.builder == "docker":
        protect = {build.image} if build.image and result.passed else set()
        prune_service_images(load_docker_host(config), service, protect, return_state=True)
    report = BuildReport.from_build(build)
    get_run_logger().info(
        "%s %s: %s%s",
        service.name,
        info.sha[:10],
        report.status,
        f" at {report.stage}: {report.signature}" if report.stage else "",
    )
    return report


def _current_flow_run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def _check_run_name() -> str:
    parameters = flow_run.get_parameters()
    commit = parameters.get("commit") or "head"
    return f"check {parameters.get('service')} {str(commit)[:12]}"


@flow(name="check-commit", flow_run_name=_check_run_name, validate_parameters=True)
def check_commit(
    service: str,
    commit: str | None = None,
    trigger: str = "check",
    config_path: str | None = None,
) -> dict[str, object]:
    """Build, test and health-check one commit of a service (default: the branch head)."""
    config = load_config(Path(config_path) if config_path else None)
    service_config = config.service(service)
    mirror = fetch_repository(
        service_config, config.cache_dir, load_git_credentials(service_config)
    )
    info = resolve_commit_info(mirror, commit or f"refs/heads/{service_config.branch}")
    report = check_and_record(config, service_config, mirror, info, trigger=trigger)
    return report.model_dump()
