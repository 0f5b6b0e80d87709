"""The culprit report: markdown for the Prefect artifact and `build-monitor history`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from build_monitor.bisection.observation import Observation
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
