"""The bisect-round subflow's parameters are typed and validated by Prefect."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.exceptions import ParameterTypeError

from build_monitor.bisection import BisectSettings, Observation, ProbeOutcome
from build_monitor.bisection.rounds import BisectContext, ProbeResult
from flows.bisect_round import bisect_round

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
