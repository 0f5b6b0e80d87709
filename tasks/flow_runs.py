"""Flow runs whose process died: Prefect's Crashed state for them, through the public client.

A process killed with SIGKILL cannot report its own end, so its flow run, its subflow runs and
their task runs stay Running. On this host (or after a stale heartbeat) history marks such a
bisection `interrupted`; `recover_interrupted_bisections` then crashes what it left running.
Across hosts, Prefect's own zombie automation does the same (deployments/automations.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from build_monitor.config import Config
from build_monitor.history.db import HistoryUnavailableError
from build_monitor.history.heartbeat import InterruptedBisection
from build_monitor.history.heartbeat import (
    recover_interrupted_bisections as mark_interrupted,
)

logger = logging.getLogger("build_monitor.flow_runs")

CRASH_MESSAGE = "its process died before it finished (build-monitor recovery)"
_UNFINISHED = ["RUNNING", "PENDING", "PAUSED"]
_MAX_NESTING = 5  # bisect -> bisect-round; deeper levels only guard against surprises


@dataclass(frozen=True)
class RecoveredBisection:
    bisection_id: int
    service: str
    flow_run_id: str | None
    marked_now: bool
    crashed_flow_runs: int  # this flow run and its subflow runs that were still unfinished


def crash_flow_runs(flow_run_ids: Sequence[str], message: str = CRASH_MESSAGE) -> dict[str, int]:
    """Give each listed flow run still unfinished, its unfinished subflow runs (at any depth)
    and their unfinished task runs a Crashed state. Returns, per listed id, how many flow runs
    were crashed (0 when all had finished)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
        FlowRunFilterState,
        FlowRunFilterStateType,
        TaskRunFilter,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    unfinished = [StateType(name) for name in _UNFINISHED]
    counts: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for root in flow_run_ids:
            tree, level = [UUID(root)], [UUID(root)]
            for _ in range(_MAX_NESTING):
                children = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=level)
                    )
                )
                level = [run.id for run in children]
                if not level:
                    break
                tree.extend(level)
            running = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=tree),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=unfinished)),
                )
            )
            for run in running:
                client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            tasks = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=tree)),
                task_run_filter=TaskRunFilter(
                    state=TaskRunFilterState(type=TaskRunFilterStateType(any_=unfinished))
                ),
            )
            for task_run in tasks:
                client.set_task_run_state(task_run.id, Crashed(message=message), force=True)
            counts[root] = len(running)
    return counts


def recover_interrupted_bisections(
    config: Config, *, crash: bool = True
) -> list[RecoveredBisection]:
    """Mark bisections whose process died `interrupted` and crash the flow runs they left
    Running (with `crash`, which needs the Prefect API in use). A Prefect API that cannot be
    reached, or a database that cannot be written, is logged; the next recovery tries again."""
    try:
        interrupted = mark_interrupted(config.database_url)
    except HistoryUnavailableError as exc:  # locked or read-only: the next command marks them
        logger.warning("could not mark interrupted bisections: %s", exc)
        return []
    crashed: dict[str, int] = {}
    flow_run_ids = [item.flow_run_id for item in interrupted if item.flow_run_id]
    if crash and flow_run_ids:
        try:
            crashed = crash_flow_runs(flow_run_ids)
        except Exception as exc:  # the Prefect API is down or refuses: retried next time
            logger.warning("could not crash the flow runs of interrupted bisections: %s", exc)
    return [_recovered(item, crashed) for item in interrupted]


def _recovered(item: InterruptedBisection, crashed: dict[str, int]) -> RecoveredBisection:
    return RecoveredBisection(
        bisection_id=item.bisection_id,
        service=item.service,
        flow_run_id=item.flow_run_id,
        marked_now=item.marked_now,
        crashed_flow_runs=crashed.get(item.flow_run_id or "", 0),
    )
