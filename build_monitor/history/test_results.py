"""Per-test results of builds: written from a build's parsed libtest output, read back as the
test logs of recorded builds and as the runs that per-test flake rates are estimated from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlmodel import Session, col, select

from build_monitor.bisection.flake_rates import TestRun
from build_monitor.bisection.libtest import BinaryRun, TestLog, TestOutcome
from build_monitor.history.models import Build, TestResult


def record_test_results(*, session: Session, build_id: int, log: TestLog) -> int:
    """Store every test result of `log` for the build; returns how many rows were written."""
    rows = 0
    for run in log.binaries:
        panics = dict(run.panics)
        for name, outcome in run.results:
            session.add(
                TestResult(
                    build_id=build_id,
                    binary=run.binary[:255],
                    name=name[:512],
                    outcome=outcome.value,
                    panic_location=panics.get(name),
                )
            )
            rows += 1
    return rows


def test_logs_of_builds(*, session: Session, build_ids: Iterable[int]) -> dict[int, TestLog]:
    """The recorded test results of these builds as test logs (builds without any are left
    out). Binaries count as finished; compile errors are not stored (those builds are judged
    by their failure signature)."""
    wanted = sorted(set(build_ids))
    found: dict[int, dict[str, list[TestResult]]] = defaultdict(lambda: defaultdict(list))
    for start in range(0, len(wanted), 500):
        statement = (
            select(TestResult)
            .where(col(TestResult.build_id).in_(wanted[start : start + 500]))
            .order_by(col(TestResult.id))
        )
        for row in session.exec(statement):
            found[row.build_id][row.binary].append(row)
    return {build_id: _log_of(binaries) for build_id, binaries in found.items()}


def _log_of(binaries: dict[str, list[TestResult]]) -> TestLog:
    return TestLog(
        binaries=tuple(
            BinaryRun(
                binary=binary,
                planned=len(rows),
                results=tuple((row.name, TestOutcome(row.outcome)) for row in rows),
                panics=tuple((row.name, row.panic_location) for row in rows if row.panic_location),
                finished=True,
            )
            for binary, rows in binaries.items()
        )
    )


def test_runs_of_service(*, session: Session, service: str, limit: int = 200_000) -> list[TestRun]:
    """Every recorded run of every test of the service (monitor builds, checks and probes),
    newest `limit` rows, as plain runs for the per-test flake rates."""
    statement = (
        select(Build.commit, TestResult.name, TestResult.outcome)
        .join(Build, col(Build.id) == col(TestResult.build_id))
        .where(Build.service == service)
        .order_by(col(TestResult.id).desc())
        .limit(limit)
    )
    return [
        TestRun(commit=commit, name=name, outcome=TestOutcome(outcome))
        for commit, name, outcome in session.exec(statement)
    ]
