"""Retry policies shared by the tasks: only failures worth another attempt are retried."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from prefect.runtime import task_run

from build_monitor.builders.result import StepResult
from build_monitor.errors import InfrastructureError

RetryCondition = Callable[[Any, Any, Any], bool]


def retry_when_raised(*exception_types: type[BaseException]) -> RetryCondition:
    """A `retry_condition_fn` that retries only when the run raised one of these."""

    def condition(task: Any, task_run: Any, state: Any) -> bool:
        try:
            state.result()
        except exception_types:
            return True
        except Exception:
            return False
        return False

    return condition


is_infrastructure_failure = retry_when_raised(InfrastructureError)


def with_attempts(result: StepResult) -> StepResult:
    """The result, stamped with how many times this task run has been tried."""
    return dataclasses.replace(result, attempts=int(task_run.run_count or 1))
