"""Task policies on a real Prefect server: what is retried, and no per-task timeout warning."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prefect import flow
from sqlalchemy.exc import OperationalError

from build_monitor.builders.result import StepResult
from build_monitor.errors import GitError, InfrastructureError
from build_monitor.history.models import BuildStatus
from tasks.retry import (
    DATABASE_TASK,
    INFRASTRUCTURE_TASK,
    TaskPolicy,
    attempt_result,
    is_infrastructure_failure,
    retry_when_raised,
)

pytestmark = pytest.mark.prefect

QUICK_INFRASTRUCTURE_TASK = TaskPolicy(retries=2, retry_condition_fn=is_infrastructure_failure)


def test_only_infrastructure_failures_are_retried(prefect_api_url: str) -> None:
    calls: list[str] = []

    @QUICK_INFRASTRUCTURE_TASK(task_run_name="flaky {kind}")
    def flaky(kind: str) -> StepResult:
        calls.append(kind)
        if kind == "infrastructure" and len(calls) < 3:
            return attempt_result(StepResult.infrastructure("docker engine unreachable"))
        if kind == "commit":
            raise GitError("unknown commit")
        return attempt_result(StepResult.ok())

    @flow
    def run(kind: str) -> StepResult:
        return flaky(kind)

    assert run("infrastructure").attempts == 3
    assert calls == ["infrastructure"] * 3
    calls.clear()
    with pytest.raises(GitError):
        run("commit")
    assert calls == ["commit"]


def test_a_failed_step_is_a_result_and_an_error_is_a_failed_state_that_raises_it() -> None:
    failed = StepResult(status=BuildStatus.failed, signature="error[E0308]")
    assert attempt_result(failed).status is BuildStatus.failed
    state: Any = attempt_result(StepResult.infrastructure("out of disk"))
    assert state.is_failed()  # a state, not a raise: Prefect logs no traceback for it
    with pytest.raises(InfrastructureError, match="out of disk"):
        state.result()


def test_database_tasks_retry_a_locked_database_only() -> None:
    condition = retry_when_raised(OperationalError)

    class Raised:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def result(self) -> None:
            raise self.exc

    assert condition(None, None, Raised(OperationalError("UPDATE", {}, Exception("locked"))))
    assert not condition(None, None, Raised(ValueError("bad row")))
    assert DATABASE_TASK.retries == 3 and DATABASE_TASK.retry_condition_fn is not None


def test_submitted_tasks_log_no_timeout_warning(
    prefect_api_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    @INFRASTRUCTURE_TASK()
    def build() -> str:
        return "built"

    @DATABASE_TASK()
    def record() -> str:
        return "recorded"

    @flow
    def run() -> list[str]:
        return [build.submit().result(), record.submit().result()]

    with caplog.at_level(logging.WARNING):
        assert run() == ["built", "recorded"]
    assert not [r for r in caplog.records if "worker thread" in r.getMessage()]
