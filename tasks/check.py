"""Checking one commit, composed of the git, builder and history tasks: build, test and
health-check it in a worktree slot of its own, and record the build. Called inside a flow, or
inside the bisect probe task."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import cast

from prefect import get_run_logger
from prefect.runtime import flow_run
from prefect.states import State
from pydantic import ConfigDict, Field

from build_monitor.bisection.libtest import TestLog
from build_monitor.builders.local import shared_target_dir
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.errors import InfrastructureError
from build_monitor.git.repo import CommitInfo
from build_monitor.git.worktrees import build_worktree
from build_monitor.history.models import BuildStatus
from build_monitor.history.reports import BuildReport
from tasks.blocks import load_docker_host
from tasks.docker import build_image, check_image_health, prune_service_images
from tasks.history import record_build_result, record_build_start, record_test_log
from tasks.local import build_in_worktree, check_command_health
from tasks.registry import publish_passing_build


class CheckedBuild(BuildReport):
    """The build's report, and every test result its output showed (`None`: not libtest
    output, e.g. a custom `test_command`); the tests are not part of the JSON report."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    test_log: TestLog | None = Field(default=None, exclude=True)


def _result_of(state: State, attempts: int) -> StepResult:
    """A task's StepResult, or an `error` result when infrastructure failures exhausted it."""
    try:
        return cast(StepResult, state.result())
    except InfrastructureError as exc:
        return StepResult(status=BuildStatus.error, signature=str(exc), attempts=attempts)


def _combine(built: StepResult, checked: StepResult) -> StepResult:
    return StepResult(
        status=checked.status,
        stage=checked.stage,
        signature=checked.signature,
        log_excerpt=checked.log_excerpt,
        image=built.image,
        duration_s=built.duration_s + checked.duration_s,
        attempts=max(built.attempts, checked.attempts),
        output=built.output,
    )


def check_in_worktree(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    commit: str,
    keep_checked_out: Collection[str] = (),
) -> StepResult:
    """Build, test and health-check `commit` in a worktree slot of its own; slots holding
    `keep_checked_out` commits are reused last."""
    attempts = service.retries + 1
    root = config.cache_dir / "worktrees"
    with build_worktree(mirror, commit, root=root, keep=keep_checked_out) as worktree:
        if service.builder == "docker":
            docker_host = load_docker_host(config)
            state = build_image.with_options(retries=service.retries)(
                docker_host, service, worktree, commit, return_state=True
            )
            built = _result_of(state, attempts)
            if not built.passed or service.health is None or built.image is None:
                return built
            state = check_image_health.with_options(retries=service.retries)(
                docker_host, service, built.image, commit, return_state=True
            )
            return _combine(built, _result_of(state, attempts))
        # One target dir per worktree slot: cargo's fingerprints trust the recorded source
        # paths, so two live worktrees must never share one.
        target = shared_target_dir(config.cache_dir, service.name) / worktree.name
        state = build_in_worktree.with_options(retries=service.retries)(
            service, worktree, commit, target, return_state=True
        )
        built = _result_of(state, attempts)
        if not built.passed or service.health is None:
            return built
        state = check_command_health.with_options(retries=service.retries)(
            service, worktree, commit, return_state=True
        )
        return _combine(built, _result_of(state, attempts))


def check_and_record(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    info: CommitInfo,
    *,
    trigger: str,
    update_state: bool = True,
    keep_checked_out: Collection[str] = (),
) -> CheckedBuild:
    """Record a build as running, check it, record the result (also when interrupted) and
    every test result its output shows."""
    run_id = flow_run.get_id()
    build_id = record_build_start(config, service, info, trigger, str(run_id) if run_id else None)
    result = StepResult(status=BuildStatus.interrupted, signature="interrupted")
    try:
        result = check_in_worktree(config, service, mirror, info.sha, keep_checked_out)
    finally:
        build = record_build_result(config, build_id, result, update_state)
    test_log = record_test_log(config, build_id, result.output)
    publish_passing_build(config, service, info.sha, result)
    if service.builder == "docker":
        protect = {build.image} if build.image and result.passed else set()
        prune_service_images(load_docker_host(config), service, protect, return_state=True)
    report = CheckedBuild(**BuildReport.from_build(build).model_dump(), test_log=test_log)
    get_run_logger().info(
        "%s %s: %s%s",
        service.name,
        info.sha[:10],
        report.status,
        f" at {report.stage}: {report.signature}" if report.stage else "",
    )
    return report
