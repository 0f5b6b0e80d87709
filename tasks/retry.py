"""Retry policy shared by the tasks: only infrastructure failures are worth another attempt."""

from __future__ import annotations

import dataclasses
from typing import Any

from prefect.runtime import task_run

from build_monitor.errors import InfrastructureError
from build_monitor.outcome import StepResult


def is_infrastructure_failure(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except InfrastructureError:
        return True
    except Exception:
        return False
    return False


def with_attempts(result: StepResult) -> StepResult:
    """The result, stamped with how many times this task run has been tried."""
    return dataclasses.replace(result, attempts=int(task_run.run_count or 1))
