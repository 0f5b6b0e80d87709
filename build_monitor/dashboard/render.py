"""The content of the Prefect artifacts: a service's status, its build history table, the fleet
dashboard, and the progress of a bisection or a rollback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATE_BADGES = {"healthy": "🟢 healthy", "failing": "🔴 failing", "unknown": "⚪ unknown"}
BUILD_HISTORY_LENGTH = 20
SHORT_SHA = 7
# Suspects below this probability no longer count as candidates left.
CANDIDATE_FLOOR = 0.001


def service_status_key(service: str) -> str:
    return f"service-status-{service}"


def build_history_key(service: str) -> str:
    return f"build-history-{service}"


def culprit_key(service: str) -> str:
    return f"culprit-{service}"


FLEET_DASHBOARD_KEY = "build-monitor-dashboard"


def bisection_progress_key(service: str) -> str:
    return f"bisection-progress-{service}"


def rollback_progress_key(service: str) -> str:
    return f"rollback-progress-{service}"


def artifact_link(key: str) -> str:
    """The Prefect UI's page of an artifact key (relative: the UI renders it on its own host)."""
    return f"/artifacts/key/{key}"


def flow_run_link(flow_run_id: str) -> str:
    return f"/runs/flow-run/{flow_run_id}"


def state_badge(state: str) -> str:
    return STATE_BADGES.get(state, f"⚪ {state}")


@dataclass(frozen=True)
class CommitRef:
    sha: str
    author: str
    subject: str
    at: datetime | None = None
    detail: str | None = None  # e.g. the failure's stage and signature

    def describe(self) -> str:
        text = f"`{self.sha[:SHORT_SHA]}` {_cell(self.author)}: {_cell(self.subject)}"
        if self.detail:
            text += f" ({_cell(self.detail)})"
        if self.at is not None:
            text += f", {_when(self.at)}"
        return text


@dataclass(frozen=True)
class RunningRun:
    kind: str  # bisection | rollback
    flow_run_id: str | None
    detail: str

    def describe(self) -> str:
        if self.flow_run_id:
            return f"[{self.kind} {_cell(self.detail)}]({flow_run_link(self.flow_run_id)})"
        return f"{self.kind} {_cell(self.detail)}"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str
    branch: str
    last_good: CommitRef | None
    last_bad: CommitRef | None
    live: str | None  # the live container's image and verification, when build-monitor runs it
    running: Sequence[RunningRun] = field(default_factory=tuple)
    last_build: CommitRef | None = None
    last_build_status: str | None = None


def service_status_markdown(status: ServiceStatus) -> str:
    rows = [
        ("State", f"**{state_badge(status.state)}** on `{status.branch}`"),
        ("Last good commit", status.last_good.describe() if status.last_good else "none yet"),
        ("Last bad commit", status.last_bad.describe() if status.last_bad else "none"),
        ("Live container", _cell(status.live) if status.live else "not run by build-monitor"),
        (
            "Running",
            ", ".join(run.describe() for run in status.running) if status.running else "nothing",
        ),
    ]
    links = " · ".join(
        f"[{label}]({artifact_link(key)})"
        for label, key in (
            ("build history", build_history_key(status.name)),
            ("culprit report", culprit_key(status.name)),
            ("fleet dashboard", FLEET_DASHBOARD_KEY),
        )
    )
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"# {status.name}: {state_badge(status.state)}\n\n| | |\n|---|---|\n{table}\n\n{links}\n"


@dataclass(frozen=True)
class BuildRow:
    sha: str
    author: str
    subject: str
    status: str
    stage: str | None
    signature: str | None
    duration_s: float | None


def build_history_table(builds: Sequence[BuildRow]) -> list[dict[str, Any]]:
    """The rows of the `build-history-<service>` table artifact, newest first."""
    return [
        {
            "commit": b.sha[:SHORT_SHA],
            "author": b.author,
            "subject": b.subject,
            "status": b.status,
            "stage": b.stage or "",
            "signature": b.signature or "",
            "duration": format_duration(b.duration_s),
        }
        for b in builds[:BUILD_HISTORY_LENGTH]
    ]


@dataclass(frozen=True)
class FleetRow:
    name: str
    state: str
    last_change: CommitRef | None
    last_status: str | None
    latest_flow_run_id: str | None = None


def fleet_dashboard_markdown(
    rows: Sequence[FleetRow], metrics: Mapping[str, Any], *, kill_switch: str | None
) -> str:
    """`metrics` is metrics.metrics_document(...)."""
    header = (
        "| Service | State | Last change | Success 7d / 30d | Push→red 7d / 30d "
        "| Red→culprit 7d / 30d | MTTR 7d / 30d | Rollbacks done/refused 30d | Links |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for row in rows:
        change = row.last_change.describe() if row.last_change else "never built"
        if row.last_status:
            change = f"{row.last_status}: {change}"
        lines.append(
            f"| **{row.name}** | {state_badge(row.state)} | {change} | "
            f"{_metric_cells(metrics['services'].get(row.name, {}))} | {_links(row)} |"
        )
    lines.append(
        f"| **fleet** | {state_badge(overall_state([r.state for r in rows]))} | | "
        f"{_metric_cells(metrics['fleet'])} | |"
    )
    switch = (
        f"**on**: automatic rollbacks are off ({_cell(kill_switch)})"
        if kill_switch
        else "**off**: automatic rollbacks may run"
    )
    return (
        "# build-monitor fleet\n\n"
        f"Kill switch: {switch}\n\n" + "\n".join(lines) + "\n\n"
        "Push→red: from the push (or the poll that found it) to the failed build. "
        "MTTR: from red to the next passing build or verified rollback. Means over each window.\n"
    )


def overall_state(states: Sequence[str]) -> str:
    if any(state == "failing" for state in states):
        return "failing"
    if states and all(state == "healthy" for state in states):
        return "healthy"
    return "unknown"


def _metric_cells(windows: Mapping[str, Any]) -> str:
    short, long = windows.get("7d", {}), windows.get("30d", {})

    def pair(name: str, formatter: Any) -> str:
        return f"{formatter(short.get(name))} / {formatter(long.get(name))}"

    rollbacks = f"{long.get('rollbacks_done', 0)} / {long.get('rollbacks_refused', 0)}"
    return " | ".join(
        [
            pair("success_rate", format_rate),
            pair("detection_s", format_duration),
            pair("culprit_s", format_duration),
            pair("mttr_s", format_duration),
            rollbacks,
        ]
    )


def _links(row: FleetRow) -> str:
    links = [
        f"[status]({artifact_link(service_status_key(row.name))})",
        f"[builds]({artifact_link(build_history_key(row.name))})",
        f"[culprit]({artifact_link(culprit_key(row.name))})",
    ]
    if row.latest_flow_run_id:
        links.append(f"[last run]({flow_run_link(row.latest_flow_run_id)})")
    return " · ".join(links)


@dataclass(frozen=True)
class Progress:
    percent: float
    description: str


def bisection_progress(
    probabilities: Mapping[str, float],
    *,
    round_number: int,
    confidence: float,
    done: bool = False,
) -> Progress:
    """How far a bisection is: the top suspect's probability against the confidence it needs."""
    if not probabilities:
        return Progress(100.0 if done else 0.0, "no candidates")
    suspect, probability = max(probabilities.items(), key=lambda item: item[1])
    left = sum(1 for p in probabilities.values() if p >= CANDIDATE_FLOOR)
    percent = 100.0 if done else min(99.0, 100.0 * probability / confidence)
    verb = "finished after" if done else "after"
    return Progress(
        round(percent, 1),
        f"{verb} round {round_number}: {left} of {len(probabilities)} candidates left; "
        f"top suspect `{suspect[:SHORT_SHA]}` at {probability:.0%}",
    )


@dataclass(frozen=True)
class StepState:
    name: str
    status: str  # running | done | failed | undone


def rollback_progress(
    steps: Sequence[StepState], *, planned: int, finished: str | None
) -> Progress:
    """`finished` is the rollback's final status, None while it runs."""
    if not steps and finished is None:
        return Progress(0.0, "deciding: checking the target and the gates")
    done = sum(1 for s in steps if s.status == "done")
    listed = ", ".join(f"{s.name} {s.status}" for s in steps) or "deciding"
    if finished is not None:
        return Progress(100.0, f"{finished}: {listed}")
    percent = 100.0 * done / planned if planned else 0.0
    return Progress(round(min(percent, 99.0), 1), f"step {len(steps)} of {planned}: {listed}")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def format_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
