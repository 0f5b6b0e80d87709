"""Local-builder tasks: cargo build and test in the worktree, then the health command."""

from __future__ import annotations

from pathlib import Path

from prefect.logging import get_run_logger

from build_monitor.builders import health
from build_monitor.builders import local as local_builder
from build_monitor.builders.result import StepResult
from build_monitor.config import ServiceConfig
from tasks.retry import INFRASTRUCTURE_TASK, attempt_result


@INFRASTRUCTURE_TASK(task_run_name="local build {commit:.10}")
def build_in_worktree(
    service: ServiceConfig, worktree: Path, commit: str, target_dir: Path | None
) -> StepResult:
    logger = get_run_logger()
    result = local_builder.build_locally(
        service=service, worktree=worktree, target_dir=target_dir, on_line=logger.debug
    )
    return attempt_result(result)


@INFRASTRUCTURE_TASK(task_run_name="health {commit:.10}")
def check_command_health(service: ServiceConfig, worktree: Path, commit: str) -> StepResult:
    result = health.check_process_health(
        service=service, workdir=worktree, log_path=worktree.parent / f"{worktree.name}.health.log"
    )
    return attempt_result(result)
