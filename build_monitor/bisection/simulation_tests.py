"""Simulated histories at test level: every probe yields real libtest text (rendered, parsed back
and judged against the target, as a probe of a Rust service would), for the cases the
one-signature search got wrong: an unrelated test that flakes at every commit, cargo stopping
before the target's binary, untestable windows."""

from __future__ import annotations

import random
from dataclasses import dataclass

from build_monitor.bisection.libtest import (
    BinaryRun,
    CompileError,
    TestLog,
    TestOutcome,
    parse_test_log,
    render_test_log,
)
from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.result import BisectResult, BisectStatus
from build_monitor.bisection.search import BisectSearch, run_search
from build_monitor.bisection.settings import BisectSettings
from build_monitor.bisection.target import Target, find_target, judge_probe

TARGET_TEST = "tests::predicts_positive_example"
FLAKY_TEST = "tests::inference_is_stable"
STEADY_TESTS = ("tests::health_reports_revision", "tests::port_defaults_to_8000")
LIB_BINARY = "unittests src/lib.rs"
STABILITY_BINARY = "tests/stability.rs"
UNTESTABLE_ERROR = CompileError("E0432", "src/cache.rs", "unresolved import `crate::cache`")


@dataclass(frozen=True)
class TestLevelHistory:
    """``commits[culprit:]`` fail ``TARGET_TEST``; ``FLAKY_TEST`` fails with probability
    ``other_flake_rate`` at every commit; commits in ``untestable`` do not compile (or, with
    ``dependency_failure``, cannot resolve their dependencies). With ``separate_binaries`` the
    flaky test runs in its own binary first, and without ``no_fail_fast`` its failure stops
    cargo before the target's binary runs."""

    __test__ = False  # not a pytest test class

    commits: tuple[str, ...]
    culprit: int
    other_flake_rate: float = 0.2
    untestable: frozenset[int] = frozenset()
    dependency_failure: bool = False
    separate_binaries: bool = False
    no_fail_fast: bool = True

    @property
    def culprit_commit(self) -> str:
        return self.commits[self.culprit]

    def log_text(self, position: int, rng: random.Random) -> str:
        if position in self.untestable:
            if self.dependency_failure:
                return render_test_log(TestLog(cargo_failure="dependency resolution failed"))
            return render_test_log(TestLog(compile_errors=(UNTESTABLE_ERROR,)))
        flaky = TestOutcome.FAILED if rng.random() < self.other_flake_rate else TestOutcome.OK
        target = TestOutcome.FAILED if position >= self.culprit else TestOutcome.OK
        steady = [(name, TestOutcome.OK) for name in STEADY_TESTS]
        if not self.separate_binaries:
            results = (*steady, (FLAKY_TEST, flaky), (TARGET_TEST, target))
            return render_test_log(TestLog(binaries=(_binary(LIB_BINARY, results),)))
        first = _binary(STABILITY_BINARY, ((FLAKY_TEST, flaky),))
        if flaky is TestOutcome.FAILED and not self.no_fail_fast:
            return render_test_log(TestLog(binaries=(first,)))
        second = _binary(LIB_BINARY, (*steady, (TARGET_TEST, target)))
        return render_test_log(TestLog(binaries=(first, second)))

    def probe(
        self, position: int, rng: random.Random, target: Target | None, *, cached: bool = False
    ) -> Observation:
        """One build and test of ``commits[position]``, judged against ``target`` (``None``:
        the one-signature fallback, what the search did before test-level evidence)."""
        log = parse_test_log(self.log_text(position, rng))
        failed = log.failed()
        if log.compile_errors:
            signature: str | None = log.compile_errors[0].label
        elif log.cargo_failure:
            signature = log.cargo_failure
        elif failed:
            signature = f"test failed: {failed[0].name}"
        else:
            signature = None
        return Observation(
            self.commits[position],
            ProbeOutcome.FAILED if signature else ProbeOutcome.PASSED,
            signature,
            cached=cached,
            tests=judge_probe(log, target) if target is not None else None,
        )


def _binary(name: str, results: tuple[tuple[str, TestOutcome], ...]) -> BinaryRun:
    crate = "stability" if name == STABILITY_BINARY else "sample_svc"
    return BinaryRun(binary=name, crate=crate, planned=len(results), results=results, finished=True)


@dataclass(frozen=True)
class TestLevelOutcome:
    __test__ = False  # not a pytest test class

    result: BisectResult
    target: Target | None


def run_test_level_search(
    history: TestLevelHistory,
    settings: BisectSettings,
    rng: random.Random,
    *,
    test_level: bool = True,
) -> TestLevelOutcome:
    """A cold-start bisection (no earlier records): the bad commit's failing build is the only
    known observation; the target comes from it alone."""
    bad = len(history.commits) - 1
    bad_log = parse_test_log(history.log_text(bad, rng))
    target = find_target(bad_log) if test_level else None
    known = _known_bad(history.commits[bad], bad_log, target)
    search = BisectSearch(
        history.commits,
        target_signature=known.signature,
        settings=settings,
        known=[known],
        target=target,
    )
    positions = {commit: p for p, commit in enumerate(history.commits)}

    def probe(commits: list[str]) -> list[Observation]:
        return [history.probe(positions[commit], rng, target) for commit in commits]

    result = run_search(search, probe)
    return TestLevelOutcome(result=result, target=target)


def _known_bad(commit: str, log: TestLog, target: Target | None) -> Observation:
    """The bad commit's recorded failing build, read from the log the target came from."""
    failed = log.failed()
    return Observation(
        commit,
        ProbeOutcome.FAILED,
        f"test failed: {failed[0].name}" if failed else None,
        cached=True,
        tests=judge_probe(log, target) if target is not None else None,
    )


def verdict_of(history: TestLevelHistory, result: BisectResult) -> str:
    """``correct``, ``wrong`` (another commit named) or ``inconclusive``."""
    if result.status in (BisectStatus.CONFIRMED, BisectStatus.UNVERIFIED):
        return "correct" if result.culprit == history.culprit_commit else "wrong"
    if result.status is BisectStatus.NO_CULPRIT:
        return "wrong"
    return "inconclusive"


def git_bisect_culprit(history: TestLevelHistory, rng: random.Random) -> tuple[str, int]:
    """Plain ``git bisect run cargo test``: any failure is bad. Returns (blamed commit, builds)."""
    good, bad, builds = 0, len(history.commits) - 1, 0
    while bad - good > 1:
        middle = (good + bad) // 2
        builds += 1
        if history.probe(middle, rng, None).outcome is ProbeOutcome.PASSED:
            good = middle
        else:
            bad = middle
    return history.commits[bad], builds
