"""The target tests and a probe's verdict against them (pure)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from build_monitor.bisection.libtest import (
    BinaryRun,
    CompileError,
    TestId,
    TestLog,
    TestOutcome,
    parse_test_log,
)
from build_monitor.bisection.target import (
    ProbeTests,
    Target,
    TargetResult,
    Verdict,
    effective_target,
    find_target,
    judge_probe,
)

DATA = Path(__file__).resolve().parents[1] / "data"
MAIN = "unittests src/main.rs"
PREDICT = TestId(MAIN, "tests::predict_doubles_input").label


def _log(name: str) -> TestLog:
    return parse_test_log((DATA / name).read_text())


def _run(binary: str, **results: TestOutcome) -> BinaryRun:
    return BinaryRun(
        binary=binary, planned=len(results), results=tuple(results.items()), finished=True
    )


def test_the_target_is_what_fails_at_bad_and_did_not_fail_at_good() -> None:
    assert find_target(_log("cargo_test_predict_failed.log"), _log("cargo_test_ok.log")) == Target(
        tests=(PREDICT,)
    )
    flaky_at_good = _log("cargo_test_predict_failed.log")
    assert find_target(flaky_at_good, flaky_at_good) is None
    assert find_target(_log("cargo_build_e0308.log")) == Target(
        compile_errors=("error[E0308] in src/main.rs",)
    )
    assert find_target(_log("cargo_test_ok.log")) is None  # nothing libtest-level failed


def test_another_failing_test_does_not_make_the_probe_bad_or_untestable() -> None:
    target = Target(tests=(PREDICT,))
    tests = judge_probe(_log("cargo_test_flaky_failed.log"), target)

    assert tests.verdict(target.keys) is Verdict.GOOD
    assert tests.other_failures(target) == [TestId(MAIN, "tests::warm_cache_hits").label]
    assert judge_probe(_log("cargo_test_predict_failed.log"), target).verdict(target.keys) is (
        Verdict.BAD
    )


def test_a_compile_error_elsewhere_or_a_timeout_is_untestable_and_not_flaky() -> None:
    target = Target(tests=(PREDICT,))
    compile_error = judge_probe(_log("cargo_build_e0308.log"), target)
    assert compile_error.verdict(target.keys) is Verdict.UNTESTABLE
    assert compile_error.blocked_by == "error[E0308] in src/main.rs"
    assert not compile_error.may_be_flaky

    timed_out = judge_probe(TestLog(), target, blocked_by="timeout after 600s")
    assert timed_out.verdict(target.keys) is Verdict.UNTESTABLE
    assert timed_out.blocked_by == "timeout after 600s"


def test_cargo_stopping_after_another_binary_failed_may_be_flaky() -> None:
    target = Target(tests=(TestId("tests/predict.rs", "predicts").label,))
    stopped = TestLog(binaries=(_run("unittests src/lib.rs", stable=TestOutcome.FAILED),))
    tests = judge_probe(stopped, target)

    assert tests.verdict(target.keys) is Verdict.UNTESTABLE
    assert tests.may_be_flaky
    assert tests.blocked_by == "stopped after failing test stable"


def test_a_target_test_missing_from_a_complete_run_did_not_exist_there() -> None:
    target = Target(tests=(TestId(MAIN, "tests::new_case").label,))
    tests = judge_probe(_log("cargo_test_ok.log"), target)
    assert dict(tests.target) == {target.tests[0]: TargetResult.ABSENT}
    assert tests.verdict(target.keys) is Verdict.GOOD


def test_probe_tests_round_trip() -> None:
    tests = judge_probe(_log("cargo_test_flaky_failed.log"), Target(tests=(PREDICT,)))
    assert ProbeTests.from_dict(tests.to_dict()) == tests


def test_known_flaky_or_inconsistent_target_tests_leave_the_verdicts_to_the_others() -> None:
    clean, flaky = "a [t]", "b [t]"
    target = Target(tests=(clean, flaky))
    assert effective_target(target, (), {"b": 0.2}) == (clean,)
    assert effective_target(target, (), {"a": 0.2, "b": 0.2}) == (clean, flaky)
    failed_then_passed = [
        (3, ProbeTests(target=((clean, TargetResult.PASSED), (flaky, TargetResult.FAILED)))),
        (5, ProbeTests(target=((clean, TargetResult.FAILED), (flaky, TargetResult.PASSED)))),
    ]
    assert effective_target(target, failed_then_passed) == (clean,)


_RESULT = st.sampled_from([*TestOutcome, None])


@settings(max_examples=300, deadline=None)
@given(
    target_results=st.lists(_RESULT, min_size=1, max_size=3),
    others=st.lists(st.sampled_from(list(TestOutcome)), max_size=4),
    compile_error=st.booleans(),
    finished=st.booleans(),
)
def test_a_probe_whose_target_tests_passed_is_never_bad(
    target_results: list[TestOutcome | None],
    others: list[TestOutcome],
    compile_error: bool,
    finished: bool,
) -> None:
    names = [f"target_{i}" for i in range(len(target_results))]
    results = [(n, r) for n, r in zip(names, target_results, strict=True) if r is not None]
    results += [(f"other_{i}", outcome) for i, outcome in enumerate(others)]
    run = BinaryRun(binary=MAIN, planned=len(results), results=tuple(results), finished=finished)
    errors = (CompileError("E0432", "src/cache.rs"),) if compile_error else ()
    target = Target(tests=tuple(TestId(MAIN, n).label for n in names))

    tests = judge_probe(TestLog(binaries=(run,), compile_errors=errors), target)
    verdict = tests.verdict(target.keys)

    if all(r is TestOutcome.OK for r in target_results):
        assert verdict is Verdict.GOOD
    if TestOutcome.FAILED in target_results:
        assert verdict is Verdict.BAD
    else:
        assert verdict is not Verdict.BAD


WORKSPACE_LOG = """\
     Running unittests src/lib.rs (target/debug/deps/model-0f1e2d3c4b5a6978)

running 1 tests
test tests::loads ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out

     Running unittests src/lib.rs (target/debug/deps/net-8796a5b4c3d2e1f0)

running 2 tests
test parse::tests::parses_header ... {header}
test tests::loads ... ok

test result: {result}. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out
"""


def test_in_a_workspace_a_target_test_is_found_in_whichever_crate_runs_it() -> None:
    """Every library of a workspace runs as `unittests src/lib.rs`: the target test lives in the
    second such binary (net), not the first (model)."""
    bad = parse_test_log(WORKSPACE_LOG.format(header="FAILED", result="FAILED"))
    good = parse_test_log(WORKSPACE_LOG.format(header="ok", result="ok"))
    target = find_target(bad, good)
    assert target is not None
    assert target.tests == (TestId("unittests src/lib.rs", "parse::tests::parses_header").label,)
    assert judge_probe(bad, target).verdict(target.keys) is Verdict.BAD
    assert judge_probe(good, target).verdict(target.keys) is Verdict.GOOD
    # Both crates' `tests::loads` passed: two passes, though they share one label.
    assert judge_probe(good, target).passed == 3
