"""Bad input gets a clear InvalidInputError, and state round-trips through JSON."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from build_monitor.bisection import (
    BisectSearch,
    BisectSettings,
    Observation,
    ProbeOutcome,
    run_search,
)
from build_monitor.bisection.config import BisectConfig
from build_monitor.errors import InvalidInputError
from tests.bisection.conftest import TARGET, broken_from, failed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 1.0}, "confidence"),
        ({"max_builds": 0}, "max_builds"),
        ({"flake_prior": 0.7}, "flake_prior"),
        ({"parallel": 0}, "parallel"),
        ({"error_retries": -1}, "error_retries"),
        ({"no_culprit_prior": 0.0}, "no_culprit_prior"),
    ],
)
def test_invalid_settings_are_rejected_with_the_field_name(
    kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        BisectSettings(**kwargs)  # type: ignore[arg-type]


def test_settings_round_trip_and_reject_unknown_keys() -> None:
    settings = BisectSettings(parallel=3, flake_prior=0.2)
    assert BisectSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(InvalidInputError, match="unknown bisect settings: colour"):
        BisectSettings.from_dict({"colour": "red"})


def test_default_budget_scales_with_range_and_parallelism() -> None:
    assert BisectSettings().build_budget(128) == 40
    assert BisectSettings(parallel=3).build_budget(128) == 80
    assert BisectSettings(max_builds=7).build_budget(128) == 7


def test_observation_validates_outcome_and_round_trips() -> None:
    observation = Observation("abc", ProbeOutcome.FAILED, TARGET, duration_s=3.5, cached=True)
    assert Observation.from_dict(json.loads(json.dumps(observation.to_dict()))) == observation
    assert Observation("abc", "passed").outcome is ProbeOutcome.PASSED  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not one of: passed, failed, error"):
        Observation("abc", "flaky")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="invalid saved observation"):
        Observation.from_dict({"outcome": "passed"})


def test_search_rejects_short_or_duplicate_ranges_and_foreign_commits() -> None:
    with pytest.raises(InvalidInputError, match="at least a good and a bad commit"):
        BisectSearch(["only"], target_signature=TARGET)
    with pytest.raises(InvalidInputError, match="duplicates: a"):
        BisectSearch(["a", "b", "a"], target_signature=TARGET)
    search = BisectSearch(["a", "b"], target_signature=TARGET)
    with pytest.raises(InvalidInputError, match="'zzz', which is not in the bisected range"):
        search.record(failed("zzz"))


def test_run_search_refuses_a_probe_that_returns_nothing(commits: tuple[str, ...]) -> None:
    search = BisectSearch(commits, target_signature=TARGET, known=[failed(commits[-1])])
    with pytest.raises(InvalidInputError, match="probe returned no observations"):
        run_search(search, lambda _commits: [])


def test_snapshot_resumes_mid_search_exactly(commits: tuple[str, ...]) -> None:
    known = [failed(commits[-1])]
    probe = broken_from(commits, 21)
    search = BisectSearch(commits, target_signature=TARGET, known=known)
    for _ in range(3):
        for observation in probe(search.next_probes()):
            search.record(observation)
    saved = json.loads(json.dumps(search.snapshot()))

    resumed = BisectSearch.from_snapshot(saved)
    assert resumed.next_probes() == search.next_probes()
    assert resumed.builds == search.builds == 3
    final = run_search(resumed, probe)
    assert final.culprit == commits[21]
    replayed = BisectSearch.replay(
        commits, target_signature=TARGET, known=known, observations=final.observations
    )
    assert replayed.done
    assert replayed.result() == final
    assert json.loads(json.dumps(final.to_dict()))["status"] == "confirmed"


def test_invalid_snapshot_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="invalid bisection snapshot"):
        BisectSearch.from_snapshot({"commits": ["a", "b"]})


def test_the_config_tables_max_commit_seconds_reaches_the_search() -> None:
    assert BisectConfig(max_commit_seconds=120).settings().max_commit_seconds == 120
    assert BisectConfig().settings().max_commit_seconds is None
    with pytest.raises(ValidationError, match="max_commit_seconds"):
        BisectConfig(max_commit_seconds=0)
