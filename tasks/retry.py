"""Task policies: the retries, retry conditions and caching several tasks share, as one typed
decorator each. Only failures worth another attempt are retried."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run
from prefect.states import Failed

from build_monitor.builders.result import StepResult
from build_monitor.errors import InfrastructureError
from build_monitor.history.db import TRANSIENT_HISTORY_ERRORS

P = ParamSpec("P")
R = TypeVar("R")

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


@dataclasses.dataclass(frozen=True)
class TaskPolicy:
    """Options shared by a family of tasks; `@POLICY(task_run_name=...)` decorates one.

    No `timeout_seconds` on the synchronous tasks: Prefect cannot interrupt a worker thread
    (it only warns), and the builders, git and the database enforce their own limits."""

    retries: int = 0
    retry_delay_seconds: float | list[float] = 0
    retry_condition_fn: RetryCondition | None = None
    timeout_seconds: float | None = None

    def __call__(
        self, *, name: str | None = None, task_run_name: str | None = None
    ) -> Callable[[Callable[P, R]], Task[P, R]]:
        return task(
            name=name,
            task_run_name=task_run_name,
            retries=self.retries,
            retry_delay_seconds=self.retry_delay_seconds,
            retry_condition_fn=self.retry_condition_fn,
            timeout_seconds=self.timeout_seconds,
            cache_policy=NO_CACHE,
        )


# A build, test or health check: one more try when the machinery (not the commit) failed.
INFRASTRUCTURE_TASK = TaskPolicy(
    retries=1, retry_delay_seconds=5, retry_condition_fn=is_infrastructure_failure
)
# Fetching from a remote: network hiccups get two more tries. The flow calls it on its own
# thread, where Prefect can enforce the timeout (git itself has none).
FETCH_TASK = TaskPolicy(
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=is_infrastructure_failure,
    timeout_seconds=600,
)
# Reading the local mirror: a failure is an answer (unknown commit), never worth a retry.
LOCAL_GIT_TASK = TaskPolicy()
# A history-database read or write: a locked or unreachable database is retried.
DATABASE_TASK = TaskPolicy(
    retries=3,
    retry_delay_seconds=[1, 2, 5],
    retry_condition_fn=retry_when_raised(*TRANSIENT_HISTORY_ERRORS),
)


def attempt_result(result: StepResult) -> StepResult:
    """A build step's result, stamped with how many times this task run has been tried; an
    infrastructure error becomes a Failed state holding the error, which the retry condition
    sees like a raised one (and `state.result()` raises), but which logs no traceback."""
    if result.status == "error":
        error = InfrastructureError(result.signature or "infrastructure error")
        return cast(StepResult, Failed(message=str(error), data=error))
    return dataclasses.replace(result, attempts=int(task_run.run_count or 1))
