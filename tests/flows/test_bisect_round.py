"""The bisect-round subflow's parameters are typed and validated by Prefect, and every round it
starts probes something."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from prefect.exceptions import ParameterTypeError

from build_monitor.bisection import BisectSettings, Observation, ProbeOutcome
from build_monitor.bisection.rounds import BisectContext, ProbeResult
from flows.bisect_round import bisect_round
from tests.flows.test_bisect import bisect_cli, local_config
from tests.repo_fixtures import SampleRepoFactory

pytestmark = pytest.mark.prefect

GOOD, BAD = "a" * 40, "b" * 40


def settled_context() -> BisectContext:
    """A range whose recorded evidence already confirms the culprit: no round probes."""
    return BisectContext(
        service="svc",
        config_path=None,
        mirror="/nowhere",
        bisection_id=1,
        commits=[GOOD, BAD],
        target_signature="error[E0308]",
        settings=BisectSettings(),
        known=[
            Observation(GOOD, ProbeOutcome.PASSED, cached=True),
            Observation(BAD, ProbeOutcome.FAILED, "error[E0308]", cached=True),
            Observation(BAD, ProbeOutcome.FAILED, "error[E0308]", cached=True),
        ],
    )


def test_json_parameters_become_models_and_a_done_search_probes_nothing(
    prefect_api_url: str,
) -> None:
    context = settled_context()
    earlier = ProbeResult(observation=Observation(BAD, ProbeOutcome.FAILED, "error[E0308]"))
    # As the Prefect API hands them over: JSON.
    json_context: Any = context.model_dump(mode="json")
    json_probes: Any = [earlier.model_dump(mode="json")]
    probes = bisect_round(json_context, json_probes)
    assert probes == [earlier]
    assert isinstance(probes[0], ProbeResult)


def test_malformed_parameters_are_refused_before_the_round_runs(prefect_api_url: str) -> None:
    broken: Any = settled_context().model_dump(mode="json")
    broken["known"] = [{"commit": GOOD, "outcome": "maybe"}]
    with pytest.raises(ParameterTypeError):
        bisect_round(broken, [])


def _round_runs(parent_id: UUID) -> list[tuple[str, list[str]]]:
    """The chain of bisect-round runs under a bisect run: each round's name and task runs."""
    rounds = []
    with get_client(sync_client=True) as client:
        while True:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])
                )
            )
            if not children:
                return rounds
            (child,) = children
            task_runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[child.id]))
            )
            rounds.append((child.name, [run.name for run in task_runs]))
            parent_id = child.id


def test_the_round_that_settles_the_search_starts_no_further_round(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("test_failure", good_commits=6, commits_after_break=2)
    exit_code, report = bisect_cli(local_config(tmp_path, repo), "--good", repo.commits[0])
    assert exit_code == 0 and report["culprit"] == repo.culprit, report

    rounds = _round_runs(UUID(str(report["flow_run_id"])))
    assert rounds, report
    # A subflow is a few tenths of a second of Prefect's time: an empty last round wastes one.
    assert all(any(name.startswith("probe ") for name in names) for _, names in rounds), rounds
    assert [name.rsplit(" ", 1)[-1] for name, _ in rounds] == [
        str(number) for number in range(1, len(rounds) + 1)
    ]
