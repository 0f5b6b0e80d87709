"""The culprit report: markdown for the Prefect artifact and `build-monitor history`, the
`bisect --json` document, and the notification a finished bisection sends."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from build_monitor.bisection.libtest import TestId
from build_monitor.bisection.observation import Observation
from build_monitor.bisection.plan import BisectPlan
from build_monitor.bisection.result import BisectResult, BisectStatus


@dataclass(frozen=True)
class CulpritDetails:
    sha: str
    author: str
    subject: str
    diffstat: str


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _fence(text: str) -> str:
    return "```\n" + text.replace("```", "'''").rstrip() + "\n```"


def _tests_cell(observation: Observation) -> str:
    """E.g. `12 passed, 1 failed; target: passed` (empty without test-level evidence)."""
    tests = observation.tests
    if tests is None:
        return ""
    targets = ", ".join(
        f"{TestId.from_label(key).name if '[' in key else key} {result.value}"
        for key, result in tests.target
    )
    text = f"{tests.passed} passed, {len(tests.failed)} failed; target: {targets}"
    return text + (f" ({tests.blocked_by})" if tests.blocked_by else "")


def probe_table(observations: Sequence[Observation]) -> str:
    rows = [
        "| # | commit | outcome | signature | duration | reused | tests |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, observation in enumerate(observations, 1):
        rows.append(
            f"| {number} | `{observation.commit[:10]}` | {observation.outcome.value} | "
            f"{_cell(observation.signature)} | {observation.duration_s:.1f}s | "
            f"{'yes' if observation.cached else ''} | {_cell(_tests_cell(observation))} |"
        )
    return "\n".join(rows)


def probe_tests(observation: Observation) -> dict[str, Any] | None:
    """A probe's `tests` in `bisect --json`: counts, failed tests, the target tests' results."""
    tests = observation.tests
    if tests is None:
        return None
    return {
        "passed": tests.passed,
        "failed": len(tests.failed),
        "failed_tests": list(tests.failed),
        "target": {key: result.value for key, result in tests.target},
        "blocked_by": tests.blocked_by,
    }


def render_report(
    *,
    service: str,
    good: str,
    bad: str,
    candidates: int,
    signature: str,
    result: BisectResult,
    observations: Sequence[Observation],
    culprit: CulpritDetails | None,
    log_excerpt: str | None,
    next_action: str | None,
) -> str:
    lines: list[str] = []
    if result.status in (BisectStatus.CONFIRMED, BisectStatus.UNVERIFIED) and culprit:
        lines.append(f"# {service}: culprit {culprit.sha[:10]} — {_cell(culprit.subject)}")
    elif result.status == BisectStatus.NO_CULPRIT:
        lines.append(f"# {service}: no culprit — the failure did not reproduce")
    else:
        lines.append(f"# {service}: bisection inconclusive")
    lines += [
        "",
        "| | |",
        "|---|---|",
        f"| status | **{result.status.value}** |",
        f"| range | `{good[:10]}..{bad[:10]}` ({candidates} candidate commits) |",
        f"| failure signature | `{_cell(signature)}` |",
        f"| confidence | {result.confidence:.2%} |",
        f"| builds run | {result.builds} |",
        f"| estimated flake rate | {result.flake_rate:.1%} |",
    ]
    if result.target_tests:
        lines.append(f"| target tests | {_cell(', '.join(result.target_tests))} |")
    if result.prior_hint:
        files = ", ".join(f"`{f}`" for f in result.prior_hint.get("files", []))
        share = float(result.prior_hint.get("share", 0.0))
        lines.append(f"| prior hint | {files} ({share:.0%} of the prior mass) |")
    if culprit:
        lines += [
            f"| culprit | `{culprit.sha}` |",
            f"| author | {_cell(culprit.author)} |",
            f"| subject | {_cell(culprit.subject)} |",
        ]
    lines += ["", result.reason, ""]
    if result.status == BisectStatus.INCONCLUSIVE and result.suspects:
        lines += ["## Suspects", "", "| commit | probability |", "|---|---|"]
        lines += [
            f"| `{commit[:10]}` | {probability:.1%} |" for commit, probability in result.suspects
        ]
        lines.append("")
    if result.untestable_windows:
        lines += ["## Untestable windows", "", "| first | last | probed | reason |"]
        lines.append("|---|---|---|---|")
        lines += [
            f"| `{w.first[:10]}` | `{w.last[:10]}` | {w.probed} | {_cell(w.reason)} |"
            for w in result.untestable_windows
        ]
        lines.append("")
    if culprit and culprit.diffstat:
        lines += ["## Diffstat", "", _fence(culprit.diffstat), ""]
    if log_excerpt:
        lines += ["## Failing log excerpt", "", _fence(log_excerpt), ""]
    lines += ["## Probes", "", probe_table(observations), ""]
    if next_action:
        lines += ["## Next step", "", _fence(next_action), ""]
    return "\n".join(lines)


def nothing_to_bisect(plan: BisectPlan, other_builds: int = 0) -> BisectResult:
    """The result when the bad commit passed when rebuilt (`other_builds`: probes that ran
    beside it in the first round)."""
    return BisectResult(
        status=BisectStatus.NO_CULPRIT,
        culprit=None,
        confidence=0.0,
        suspects=[],
        builds=plan.builds_before + other_builds,
        observations=[],
        flake_rate=0.0,
        reason=f"the bad commit {plan.bad[:10]} passed when rebuilt: nothing to bisect",
    )


def with_windows_in_reason(result: BisectResult) -> BisectResult:
    """The result whose reason states its untestable windows (first and last commit, shared
    reason), when the search's own reason does not already."""
    missing = [w.describe() for w in result.untestable_windows if w.describe() not in result.reason]
    if not missing:
        return result
    return dataclasses.replace(result, reason=f"{result.reason}; {'; '.join(missing)}")


class ProbeRow(BaseModel):
    commit: str
    outcome: str
    signature: str | None
    duration_s: float
    cached: bool
    # Test-level evidence (libtest output): counts, failed tests, the target tests' results.
    tests: dict[str, Any] | None = None


class UntestableWindowRow(BaseModel):
    first: str
    last: str
    probed: int
    reason: str


class SuspectRow(BaseModel):
    commit: str
    probability: float


class BisectReport(BaseModel):
    """`build-monitor bisect --json` (a contract: extend only)."""

    service: str
    status: str
    good: str
    bad: str
    culprit: str | None
    culprit_author: str | None
    culprit_subject: str | None
    confidence: float
    signature: str | None
    builds: int
    probes: list[ProbeRow]
    suspects: list[SuspectRow]
    reason: str
    flow_run_id: str | None
    bisection_id: int
    candidates: int
    report: str
    # The automatic rollback a confirmed culprit started (`[services.rollback] auto = true`).
    rollback: dict[str, Any] | None = None
    # The flake prior the search started from: configured, given, or learned from history.
    flake_prior: float | None = None
    # The tests (or compile errors) the verdicts used; empty when bisecting on the signature.
    target_tests: list[str] = []
    # The files the failure named and the share of the prior mass their commits got.
    prior_hint: dict[str, Any] | None = None
    # Runs of probed commits that could not test the target, with their shared reason.
    untestable_windows: list[UntestableWindowRow] = []


def bisect_report(
    *,
    service: str,
    plan: BisectPlan,
    result: BisectResult,
    culprit: CulpritDetails | None,
    markdown: str,
    bisection_id: int,
    flow_run_id: str | None,
    rollback: dict[str, Any] | None = None,
    flake_prior: float | None = None,
) -> BisectReport:
    """The `--json` document of a finished bisection; `result` counts every build it ran."""
    return BisectReport(
        service=service,
        status=result.status.value,
        good=plan.good,
        bad=plan.bad,
        culprit=result.culprit,
        culprit_author=culprit.author if culprit else None,
        culprit_subject=culprit.subject if culprit else None,
        confidence=round(result.confidence, 6),
        signature=plan.target_signature,
        builds=result.builds,
        probes=[
            ProbeRow(
                commit=o.commit,
                outcome=o.outcome.value,
                signature=o.signature,
                duration_s=round(o.duration_s, 3),
                cached=o.cached,
                tests=probe_tests(o),
            )
            for o in [*plan.known, *result.observations]
        ],
        suspects=[SuspectRow(commit=c, probability=round(p, 6)) for c, p in result.suspects]
        if result.status is not BisectStatus.CONFIRMED
        else [],
        reason=result.reason,
        flow_run_id=flow_run_id,
        bisection_id=bisection_id,
        candidates=plan.candidates,
        report=markdown,
        rollback=rollback,
        flake_prior=flake_prior,
        target_tests=list(result.target_tests),
        prior_hint=result.prior_hint,
        untestable_windows=[
            UntestableWindowRow(**window.to_dict()) for window in result.untestable_windows
        ],
    )


def render_plan_report(
    *,
    service: str,
    plan: BisectPlan,
    result: BisectResult,
    culprit: CulpritDetails | None,
    log_excerpt: str | None,
    next_action: str | None,
) -> str:
    """The markdown report of a bisection that ran its search."""
    return render_report(
        service=service,
        good=plan.good,
        bad=plan.bad,
        candidates=plan.candidates,
        signature=plan.target_signature or "",
        result=result,
        observations=[*plan.known, *result.observations],
        culprit=culprit,
        log_excerpt=log_excerpt,
        next_action=next_action,
    )
