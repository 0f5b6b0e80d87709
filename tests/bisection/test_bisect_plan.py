"""The bisection's plan, round models and report document, without Prefect."""

from __future__ import annotations

import json
from typing import Any

import pytest

from build_monitor.bisection import BisectSettings, Observation, ProbeOutcome
from build_monitor.bisection.flake_history import FlakeEvidence
from build_monitor.bisection.plan import (
    first_failed_commit,
    plan_bisection,
    require_ancestor,
    require_last_good,
    with_bad_commit_probe,
    with_learned_flake_prior,
)
from build_monitor.bisection.report import (
    CulpritDetails,
    bisect_report,
    nothing_to_bisect,
)
from build_monitor.bisection.rounds import BisectContext, ProbeResult, latest_log_excerpt
from build_monitor.errors import InfrastructureError, InvalidInputError
from build_monitor.notifications.bisection_events import bisection_event

COMMITS = [f"{n:040x}" for n in range(1, 9)]
GOOD, BAD = COMMITS[0], COMMITS[-1]


def failed(commit: str, signature: str = "error[E0308]", cached: bool = True) -> Observation:
    return Observation(
        commit=commit, outcome=ProbeOutcome.FAILED, signature=signature, cached=cached
    )


def test_the_target_is_the_bad_commits_last_recorded_failure() -> None:
    known = [failed(BAD, "first"), failed(COMMITS[3], "other"), failed(BAD, "last")]
    plan = plan_bisection(GOOD, BAD, COMMITS[1:], known)
    assert (plan.commits, plan.candidates, plan.target_signature) == (COMMITS, 7, "last")
    assert plan_bisection(GOOD, BAD, COMMITS[1:], [failed(COMMITS[3])]).target_signature is None


def test_the_bad_commits_first_build_teaches_the_target_and_counts_as_a_build() -> None:
    plan = plan_bisection(GOOD, BAD, COMMITS[1:], [])
    learned = with_bad_commit_probe(plan, failed(BAD, "boom", cached=False))
    assert (learned.target_signature, learned.builds_before) == ("boom", 1)
    assert learned.known == [failed(BAD, "boom", cached=True)]
    passed = with_bad_commit_probe(plan, Observation(commit=BAD, outcome=ProbeOutcome.PASSED))
    assert passed.target_signature is None
    with pytest.raises(InfrastructureError, match="cannot build"):
        with_bad_commit_probe(
            plan, Observation(commit=BAD, outcome=ProbeOutcome.ERROR, signature="x")
        )


def test_a_range_needs_a_good_ancestor() -> None:
    with pytest.raises(InvalidInputError, match=r"no passing build of svc.*--good"):
        require_last_good(None, service="svc", bad=BAD)
    assert require_last_good(GOOD, service="svc", bad=BAD) == GOOD
    with pytest.raises(InvalidInputError, match="is not an ancestor"):
        require_ancestor(BAD, BAD, good_is_ancestor=True)
    with pytest.raises(InvalidInputError, match="is not an ancestor"):
        require_ancestor(GOOD, BAD, good_is_ancestor=False)
    require_ancestor(GOOD, BAD, good_is_ancestor=True)


def test_the_monitor_bisects_up_to_the_first_recorded_failure() -> None:
    recorded = [
        failed(COMMITS[5]),
        failed(COMMITS[4]),
        Observation(COMMITS[2], ProbeOutcome.PASSED),
    ]
    assert first_failed_commit(COMMITS[1:], recorded, BAD) == COMMITS[4]
    assert first_failed_commit(COMMITS[1:], [], BAD) == BAD


def test_the_flake_prior_is_only_learned_from_evidence() -> None:
    settings = BisectSettings()
    assert with_learned_flake_prior(settings, FlakeEvidence()) is settings
    raised = with_learned_flake_prior(settings, FlakeEvidence(runs=8, flaky_failures=2))
    assert raised.flake_prior == pytest.approx((0.01 * 2 + 2) / 10)


def test_one_build_count_from_the_bad_commits_first_build_to_the_result() -> None:
    plan = with_bad_commit_probe(plan_bisection(GOOD, BAD, COMMITS[1:], []), failed(BAD))
    result = nothing_to_bisect(plan)
    assert result.builds == 1 and "passed when rebuilt" in result.reason
    context = BisectContext(
        service="svc",
        config_path=None,
        mirror="/mirror",
        bisection_id=1,
        commits=plan.commits,
        target_signature="error[E0308]",
        settings=BisectSettings(),
        known=plan.known,
        builds_before=plan.builds_before,
    )
    probes = [ProbeResult(observation=failed(c, cached=False)) for c in COMMITS[4:6]]
    assert context.search(probes).result().builds == 1 + len(probes)


def test_the_report_document_keeps_its_json_contract() -> None:
    plan = with_bad_commit_probe(plan_bisection(GOOD, BAD, COMMITS[1:], []), failed(BAD))
    report = bisect_report(
        service="svc",
        plan=plan,
        result=nothing_to_bisect(plan),
        culprit=None,
        markdown="md",
        bisection_id=7,
        flow_run_id=None,
    ).model_dump()
    # A contract: fields may be added, never renamed or dropped.
    assert set(report) >= {
        "service", "status", "good", "bad", "culprit", "culprit_author", "culprit_subject",
        "confidence", "signature", "builds", "probes", "suspects", "reason", "flow_run_id",
        "bisection_id", "candidates", "report", "rollback", "flake_prior",
    }  # fmt: skip
    [probe] = report["probes"]
    assert probe.items() >= {
        "commit": BAD, "outcome": "failed", "signature": "error[E0308]", "duration_s": 0.0,
        "cached": True,
    }.items()  # fmt: skip
    assert (report["status"], report["builds"], report["candidates"]) == ("no_culprit", 1, 7)
    json.dumps(report)


def test_a_named_culprit_is_announced_and_anything_else_is_inconclusive() -> None:
    plan = plan_bisection(GOOD, BAD, COMMITS[1:], [failed(BAD)])
    result = nothing_to_bisect(plan)
    culprit = CulpritDetails(COMMITS[4], "Ann", "Break it", "1 file changed")
    kwargs: dict[str, Any] = {"service": "svc", "branch": "main", "plan": plan, "result": result}
    found = bisection_event(
        **kwargs, culprit=culprit, log_excerpt="log", next_action=None, flow_run_id=None
    )
    assert (found.event, found.commit, found.culprit and found.culprit.last_good_commit) == (
        "culprit_found",
        COMMITS[4],
        GOOD,
    )
    other = bisection_event(
        **kwargs, culprit=None, log_excerpt=None, next_action=None, flow_run_id=None
    )
    assert (other.event, other.commit) == ("bisect_inconclusive", BAD)


def test_round_parameters_survive_json_and_replay_the_search() -> None:
    context = BisectContext(
        service="svc",
        config_path=None,
        mirror="/mirror",
        bisection_id=1,
        commits=COMMITS,
        target_signature="error[E0308]",
        settings=BisectSettings(parallel=2),
        known=[failed(BAD)],
    )
    assert BisectContext.model_validate(json.loads(context.model_dump_json())) == context
    probes = [ProbeResult(observation=failed(COMMITS[4], cached=False), log_excerpt="first log")]
    probes.append(ProbeResult(observation=failed(COMMITS[4], cached=False), log_excerpt="second"))
    search = context.search(probes)
    assert search.builds == 2
    assert latest_log_excerpt(probes, COMMITS[4]) == "second"
    assert latest_log_excerpt(probes, COMMITS[3]) is None
    assert context.round_name(3) == f"bisect svc {GOOD[:6]}..{BAD[:6]} round 3"
    with pytest.raises(ValueError):
        ProbeResult.model_validate({"observation": {"commit": GOOD, "outcome": "maybe"}})
