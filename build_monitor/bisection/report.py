"""The culprit report: markdown for the Prefect artifact and `build-monitor history`, the
`bisect --json` document, and the notification a finished bisection sends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

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


def probe_table(observations: Sequence[Observation]) -> str:
    rows = ["| # | commit | outcome | signature | duration | reused |", "|---|---|---|---|---|---|"]
    for number, observation in enumerate(observations, 1):
        rows.append(
            f"| {number} | `{observation.commit[:10]}` | {observation.outcome.value} | "
            f"{_cell(observation.signature)} | {observation.duration_s:.1f}s | "
            f"{'yes' if observation.cached else ''} |"
        )
    return "\n".join(rows)


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
    if culprit and culprit.diffstat:
        lines += ["## Diffstat", "", _fence(culprit.diffstat), ""]
    if log_excerpt:
        lines += ["## Failing log excerpt", "", _fence(log_excerpt), ""]
    lines += ["## Probes", "", probe_table(observations), ""]
    if next_action:
        lines += ["## Next step", "", _fence(next_action), ""]
    return "\n".join(lines)


def nothing_to_bisect(plan: BisectPlan) -> BisectResult:
    """The result when the bad commit passed when rebuilt."""
    return BisectResult(
        status=BisectStatus.NO_CULPRIT,
        culprit=None,
        confidence=0.0,
        suspects=[],
        builds=plan.builds_before,
        observations=[],
        flake_rate=0.0,
        reason=f"the bad commit {plan.bad[:10]} passed when rebuilt: nothing to bisect",
    )


class ProbeRow(BaseModel):
    commit: str
    outcome: str
    signature: str | None
    duration_s: float
    cached: bool


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
