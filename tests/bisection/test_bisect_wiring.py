"""How the flows feed the test-level core: probes judged against the target between rounds,
the plan's target from recorded test results, the first round, hints, and the --json fields."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from build_monitor.bisection import BisectSettings, Observation, ProbeOutcome
from build_monitor.bisection.libtest import BinaryRun, TestId, TestLog, TestOutcome
from build_monitor.bisection.plan import (
    first_round_midpoints,
    plan_bisection,
    prior_from_hints,
    with_bad_commit_probe,
)
from build_monitor.bisection.report import bisect_report, with_windows_in_reason
from build_monitor.bisection.result import UntestableWindow
from build_monitor.bisection.rounds import BisectContext, ProbeResult
from build_monitor.bisection.target import Target, Verdict

MAIN = "unittests src/main.rs"
COMMITS = [f"{i:040x}" for i in range(1, 18)]
TARGET = Target(tests=(TestId(MAIN, "net::tests::parses").label,))


def log_of(**results: TestOutcome) -> TestLog:
    run = BinaryRun(MAIN, planned=len(results), results=tuple(results.items()), finished=True)
    return TestLog(binaries=(run,))


def context(**extra: object) -> BisectContext:
    return BisectContext(
        service="svc-h1",
        config_path=None,
        mirror="/nowhere",
        bisection_id=1,
        commits=COMMITS,
        target_signature="test failed: net::tests::parses",
        settings=BisectSettings(),
        known=[
            Observation(
                COMMITS[-1], ProbeOutcome.FAILED, "test failed: net::tests::parses", cached=True
            )
        ],
        target=TARGET,
        **extra,  # type: ignore[arg-type]
    )


@settings(max_examples=150, deadline=None)
@given(
    position=st.integers(min_value=1, max_value=len(COMMITS) - 2),
    others=st.lists(st.sampled_from(list(TestOutcome)), max_size=5),
)
def test_a_probe_whose_target_tests_passed_is_never_bad(
    position: int, others: list[TestOutcome]
) -> None:
    results = {"net::tests::parses": TestOutcome.OK}
    results |= {f"other_{i}": outcome for i, outcome in enumerate(others)}
    failed = TestOutcome.FAILED in others
    commit = COMMITS[position]
    probe = ProbeResult(
        observation=Observation(
            commit,
            ProbeOutcome.FAILED if failed else ProbeOutcome.PASSED,
            "test failed: other_0" if failed else None,
        ),
        test_log=log_of(**results),
    )
    ctx = context()
    judged = ctx.judged(probe)
    assert judged.test_log is None  # only the verdict's evidence travels between rounds
    assert judged.observation.tests is not None
    assert judged.observation.tests.verdict(TARGET.keys) is Verdict.GOOD
    search = ctx.search([probe])
    assert commit not in search.likely_reruns()
    assert search.result().culprit != commit
    assert all(
        search.probabilities()[c] < 1 / (len(COMMITS) - 1) for c in COMMITS[1 : position + 1]
    )


def test_the_target_comes_from_the_bad_commits_test_results_and_judges_known_runs() -> None:
    bad_log = log_of(**{"net::tests::parses": TestOutcome.FAILED, "flaky": TestOutcome.FAILED})
    good_log = log_of(**{"net::tests::parses": TestOutcome.OK, "flaky": TestOutcome.FAILED})
    known = [
        Observation(COMMITS[0], ProbeOutcome.FAILED, "test failed: flaky", cached=True),
        Observation(COMMITS[-1], ProbeOutcome.FAILED, "test failed: net", cached=True),
    ]
    plan = plan_bisection(COMMITS[0], COMMITS[-1], COMMITS[1:], known, [good_log, bad_log])
    # `flaky` failed at the good commit too: not part of the target.
    assert plan.target == TARGET
    assert [o.tests.verdict(TARGET.keys) for o in plan.known if o.tests] == [
        Verdict.GOOD,
        Verdict.BAD,
    ]
    custom = plan_bisection(COMMITS[0], COMMITS[-1], COMMITS[1:], known, [None, None])
    assert custom.target is None and custom.target_signature == "test failed: net"


def test_a_bad_probe_without_libtest_output_keeps_the_one_signature_target() -> None:
    plan = plan_bisection(COMMITS[0], COMMITS[-1], COMMITS[1:], [])
    probed = with_bad_commit_probe(plan, Observation(COMMITS[-1], ProbeOutcome.FAILED, "boom"))
    assert (probed.target, probed.target_signature, probed.builds_before) == (None, "boom", 1)


def test_the_first_round_probes_the_bad_commit_beside_the_first_midpoint() -> None:
    assert first_round_midpoints(COMMITS, BisectSettings(parallel=1)) == []
    [midpoint] = first_round_midpoints(COMMITS, BisectSettings(parallel=2))
    assert 0 < COMMITS.index(midpoint) < len(COMMITS) - 1
    assert len(first_round_midpoints(COMMITS, BisectSettings(parallel=3))) == 2


def test_hints_weigh_the_commits_that_touched_the_named_file() -> None:
    bad_log = log_of(**{"net::tests::parses": TestOutcome.FAILED})
    plan = with_bad_commit_probe(
        plan_bisection(COMMITS[0], COMMITS[-1], COMMITS[1:], []),
        Observation(COMMITS[-1], ProbeOutcome.FAILED, "test failed: net::tests::parses"),
        bad_log,
    )
    touched: dict[str, tuple[str, ...]] = {commit: ("src/other.rs",) for commit in COMMITS}
    touched[COMMITS[5]] = ("src/net.rs", "README.md")
    hint = prior_from_hints(plan, touched)
    assert hint is not None and hint.files == ("src/net.rs", "src/net/mod.rs")
    assert max(hint.weights) == hint.weights[4]  # COMMITS[5] is the 5th suspect
    assert 0.5 < hint.share < 1.0
    assert prior_from_hints(plan, {c: ("src/other.rs",) for c in COMMITS}) is None


def test_bisect_json_carries_target_tests_prior_hint_windows_and_probe_tests() -> None:
    bad_log = log_of(**{"net::tests::parses": TestOutcome.FAILED})
    plan = with_bad_commit_probe(
        plan_bisection(COMMITS[0], COMMITS[-1], COMMITS[1:], []),
        Observation(COMMITS[-1], ProbeOutcome.FAILED, "test failed: net::tests::parses"),
        bad_log,
    )
    touched = {commit: ("src/net.rs",) if commit == COMMITS[3] else () for commit in COMMITS}
    ctx = context(prior_hint=prior_from_hints(plan, touched), builds_before=1)
    other = log_of(**{"net::tests::parses": TestOutcome.OK, "other": TestOutcome.FAILED})
    probe = ProbeResult(
        observation=Observation(COMMITS[8], ProbeOutcome.FAILED, "test failed: other"),
        test_log=other,
    )
    result = with_windows_in_reason(ctx.search([probe]).result())
    report = bisect_report(
        service="svc-h1",
        plan=plan,
        result=result,
        culprit=None,
        markdown="",
        bisection_id=1,
        flow_run_id=None,
    ).model_dump()
    assert report["target_tests"] == list(TARGET.tests)
    assert report["prior_hint"]["files"] == ["src/net.rs", "src/net/mod.rs"]
    assert 0 < report["prior_hint"]["share"] < 1
    assert report["untestable_windows"] == []
    assert report["builds"] == 2  # the bad commit's build and the probe
    probe_tests = report["probes"][-1]["tests"]
    assert probe_tests["passed"] == 1 and probe_tests["failed"] == 1
    assert probe_tests["target"] == {TARGET.tests[0]: "passed"}


def test_untestable_windows_are_stated_in_the_reason() -> None:
    result = context().search([]).result()
    window = UntestableWindow(COMMITS[2], COMMITS[4], 2, "dependency resolution failed")
    stated = with_windows_in_reason(
        type(result)(**{**result.__dict__, "untestable_windows": [window]})
    )
    assert stated.reason.endswith(
        f"{COMMITS[2][:10]}..{COMMITS[4][:10]} cannot test it (dependency resolution failed)"
    )
    assert with_windows_in_reason(stated) == stated


def test_built_commits_are_the_bad_build_and_the_probes_that_built() -> None:
    def probe(commit: str, outcome: ProbeOutcome, cached: bool = False) -> ProbeResult:
        return ProbeResult(observation=Observation(commit, outcome, cached=cached))

    probes = [
        probe(COMMITS[1], ProbeOutcome.PASSED),
        probe(COMMITS[2], ProbeOutcome.ERROR),
        probe(COMMITS[3], ProbeOutcome.PASSED, cached=True),
    ]
    assert context().built_commits(probes) == {COMMITS[1]}
    # The bad commit built to learn its failure is known (cached) evidence, yet it built.
    assert context(builds_before=1).built_commits(probes) == {COMMITS[1], COMMITS[-1]}
