"""The breakage a bisection hunts, at test level, and what one probe says about it.

The target is the set of tests (or, when nothing compiled, compile errors) that fail at the bad
commit and did not fail at the good one. A probe is then:

- **bad** when a target test failed (or a target compile error came back);
- **good** when every target test ran and passed, whatever else failed: the other failures are
  flake evidence for *those* tests, not a verdict on the commit;
- **untestable** only when a target test could not run. When what stopped it was a test failure
  (cargo stopped before the target's binary, without ``--no-fail-fast``) rather than a compile
  error, the result ``may_be_flaky`` and a rerun can still test the commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from build_monitor.bisection.libtest import TestId, TestLog, TestOutcome
from build_monitor.errors import InvalidInputError

# A test whose recorded flake rate reaches this is dropped from a target that has other tests.
FLAKY_TEST_RATE = 0.05


class Verdict(StrEnum):
    BAD = "bad"
    GOOD = "good"
    UNTESTABLE = "untestable"


class TargetResult(StrEnum):
    """What became of one target test in one probe. ``absent``: its binary ran to the end
    without it (the test does not exist at that commit, so the failure cannot be there)."""

    PASSED = "passed"
    FAILED = "failed"
    ABSENT = "absent"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class Target:
    """Tests (by :attr:`TestId.label`) or compile errors (by :attr:`CompileError.label`)."""

    tests: tuple[str, ...] = ()
    compile_errors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.tests and not self.compile_errors:
            raise InvalidInputError("a bisection target needs at least one test or compile error")

    @property
    def keys(self) -> tuple[str, ...]:
        return self.tests or self.compile_errors

    def describe(self) -> str:
        return ", ".join(TestId.from_label(key).name for key in self.tests) or ", ".join(
            self.compile_errors
        )

    def to_dict(self) -> dict[str, Any]:
        return {"tests": list(self.tests), "compile_errors": list(self.compile_errors)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        try:
            return cls(tuple(data.get("tests", ())), tuple(data.get("compile_errors", ())))
        except TypeError as exc:
            raise InvalidInputError(f"invalid bisection target {data!r}: {exc}") from None


def find_target(bad: TestLog, good: TestLog | None = None) -> Target | None:
    """What broke between ``good`` and ``bad``; ``None`` when ``bad`` shows no libtest failure
    (custom test commands): bisect on the one failure signature as before."""
    good_failed = {test.label for test in good.failed()} if good else set()
    good_errors = {error.label for error in good.compile_errors} if good else set()
    errors = [e.label for e in bad.compile_errors if e.label not in good_errors]
    if errors and not bad.failed():
        return Target(compile_errors=tuple(dict.fromkeys(errors)))
    tests = [test.label for test in bad.failed() if test.label not in good_failed]
    if tests:
        return Target(tests=tuple(tests))
    if errors:
        return Target(compile_errors=tuple(dict.fromkeys(errors)))
    return None


@dataclass(frozen=True)
class ProbeTests:
    """A probe's test-level evidence, kept on its :class:`Observation` (``tests``): counts,
    every failed test, and the target's results. ``blocked_by`` says why target tests could not
    run (``error[E0432] in src/x.rs``, ``dependency resolution failed``, ``timeout``...)."""

    passed: int = 0
    failed: tuple[str, ...] = ()
    target: tuple[tuple[str, TargetResult], ...] = ()
    blocked_by: str | None = None
    may_be_flaky: bool = False

    def verdict(self, keys: Iterable[str]) -> Verdict:
        """The verdict against the target tests ``keys`` (all or some of the target)."""
        results = dict(self.target)
        wanted = [results.get(key, TargetResult.NOT_RUN) for key in keys]
        if TargetResult.FAILED in wanted:
            return Verdict.BAD
        if all(result in (TargetResult.PASSED, TargetResult.ABSENT) for result in wanted):
            return Verdict.GOOD
        return Verdict.UNTESTABLE

    def other_failures(self, target: Target) -> list[str]:
        """Failed tests outside the target: flake evidence for those tests."""
        return [test for test in self.failed if test not in target.keys]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": list(self.failed),
            "target": {key: result.value for key, result in self.target},
            "blocked_by": self.blocked_by,
            "may_be_flaky": self.may_be_flaky,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeTests:
        try:
            return cls(
                passed=int(data.get("passed", 0)),
                failed=tuple(data.get("failed", ())),
                target=tuple((k, TargetResult(v)) for k, v in dict(data["target"]).items()),
                blocked_by=data.get("blocked_by"),
                may_be_flaky=bool(data.get("may_be_flaky", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid probe tests {data!r}: {exc}") from None


def judge_probe(log: TestLog, target: Target, *, blocked_by: str | None = None) -> ProbeTests:
    """``log`` against ``target``. ``blocked_by`` names a failure outside the log that stopped
    the probe (``timeout``, an infrastructure error): target tests that did not run then say so.
    """
    failed = tuple(test.label for test in log.failed())
    passed = sum(outcome is TestOutcome.OK for run in log.binaries for _, outcome in run.results)
    compile_errors = {error.label for error in log.compile_errors}
    if target.compile_errors:
        target_results = tuple(
            (key, _compile_target_result(key, compile_errors, log, blocked_by))
            for key in target.compile_errors
        )
    else:
        target_results = tuple(
            (key, _test_target_result(TestId.from_label(key), log, blocked_by))
            for key in target.tests
        )
    not_run = any(result is TargetResult.NOT_RUN for _, result in target_results)
    stopped_by = None
    may_be_flaky = False
    if not_run:
        stopped_by = blocked_by or _blocking_reason(log)
        may_be_flaky = blocked_by is None and not log.compile_errors and bool(failed)
    return ProbeTests(
        passed=passed,
        failed=failed,
        target=target_results,
        blocked_by=stopped_by,
        may_be_flaky=may_be_flaky,
    )


def _compile_target_result(
    key: str, compile_errors: set[str], log: TestLog, blocked_by: str | None
) -> TargetResult:
    if key in compile_errors:
        return TargetResult.FAILED
    if compile_errors or log.cargo_failure or blocked_by or not log.binaries:
        return TargetResult.NOT_RUN
    return TargetResult.PASSED


def _test_target_result(test: TestId, log: TestLog, blocked_by: str | None) -> TargetResult:
    runs = log.binaries_named(test.binary)
    if runs:
        outcomes = {run.outcome(test.name) for run in runs}
        if TestOutcome.FAILED in outcomes:
            return TargetResult.FAILED
        if TestOutcome.OK in outcomes:
            return TargetResult.PASSED
        if all(run.finished for run in runs) and outcomes <= {None}:
            return TargetResult.ABSENT
        return TargetResult.NOT_RUN
    # The binary did not run: it does not exist here only if nothing stopped the run.
    if blocked_by or log.compile_errors or log.cargo_failure or log.failed() or not log.binaries:
        return TargetResult.NOT_RUN
    if all(binary.finished for binary in log.binaries):
        return TargetResult.ABSENT
    return TargetResult.NOT_RUN


def _blocking_reason(log: TestLog) -> str:
    if log.compile_errors:
        return log.compile_errors[0].label
    if log.cargo_failure:
        return log.cargo_failure
    if log.failed():
        return f"stopped after failing test {TestId.from_label(log.failed()[0].label).name}"
    if any(not run.finished for run in log.binaries):
        return "a test binary did not finish"
    return "the target's test binary did not run"


def inconsistent_tests(keys: Iterable[str], runs: Sequence[tuple[int, ProbeTests]]) -> set[str]:
    """Target tests proven not to be a clean break: each failed at some position and passed at
    the same or a newer one (``runs`` pairs a commit position, oldest first, with a probe). A
    broken test does not pass again, while a flaky one does."""
    found = set()
    for key in keys:
        failed_at = [p for p, tests in runs if dict(tests.target).get(key) is TargetResult.FAILED]
        passed_at = [p for p, tests in runs if dict(tests.target).get(key) is TargetResult.PASSED]
        if failed_at and passed_at and min(failed_at) <= max(passed_at):
            found.add(key)
    return found


def effective_target(
    target: Target,
    runs: Sequence[tuple[int, ProbeTests]],
    flake_rates: Mapping[str, float] | None = None,
) -> tuple[str, ...]:
    """The target keys the verdicts use: the target without tests known to flake (a recorded
    rate, by test name, of at least :data:`FLAKY_TEST_RATE`) or shown inconsistent by this
    bisection's probes, as long as some test is left; otherwise the whole target (the flake
    model copes)."""
    keys = target.keys
    if len(keys) < 2:
        return keys
    inconsistent = inconsistent_tests(keys, runs)
    rates = flake_rates or {}
    flaky = {key for key in keys if rates.get(TestId.from_label(key).name, 0.0) >= FLAKY_TEST_RATE}
    for excluded in (inconsistent | flaky, inconsistent):
        kept = tuple(key for key in keys if key not in excluded)
        if kept:
            return kept
    return keys
