"""The content of the Prefect artifacts: a service's status, its build history table, the fleet
dashboard, and the progress of a bisection or a rollback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# `rolled-back`: the branch still fails, but a verified redeploy put the live container back
# on a good build (shown only: the history's state stays `failing` until the branch is green).
ROLLED_BACK = "rolled-back"
STATE_BADGES = {
    "healthy": "🟢 healthy",
    "failing": "🔴 failing",
    "unknown": "⚪ unknown",
    ROLLED_BACK: "🟢 rolled back",
}
BUILD_HISTORY_LENGTH = 20
SHORT_SHA = 7
SHORT_SUBJECT = 26
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

    def short(self) -> str:
        """Sha, author and the subject clipped at a word: for narrow table cells."""
        return f"`{self.sha[:SHORT_SHA]}` {_cell(self.author)}: {_cell(_clip(self.subject))}"

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
    """The `service-status-<name>` artifact."""
    state = f"**{state_badge(status.state)}** on `{status.branch}`"
    if status.state == ROLLED_BACK:
        state += ": the live container runs a verified good build; the branch still fails"
    rows = [
        ("State", state),
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
    # A list, not a table: the Prefect UI never wraps a table cell, and commit lines are long.
    items = "\n".join(f"- **{name}:** {value}" for name, value in rows)
    return f"# {status.name}: {state_badge(status.state)}\n\n{items}\n\n{links}\n"


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
    """`metrics` is metrics.metrics_document(...). Two narrow tables (states, then metrics), so
    both fit the Prefect UI's artifact pane at 1440 px (tests/ui measures it)."""
    states = ["| Service | State | Last change | More |", "|---|---|---|---|"]
    for row in rows:
        # The state says whether it passed; the build history has every status.
        change = row.last_change.short() if row.last_change else "never built"
        states.append(
            f"| **[{row.name}]({artifact_link(service_status_key(row.name))})** "
            f"| {state_badge(row.state)} | {change} | {_links(row)} |"
        )
    fleet_state = overall_state([r.state for r in rows])
    states.append(f"| **fleet** | {state_badge(fleet_state)} | | |")
    figures = [
        "| Service | Success | Push→red | Red→culprit | MTTR | Rollbacks |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        figures.append(f"| {row.name} | {_metric_cells(metrics['services'].get(row.name, {}))} |")
    figures.append(f"| **fleet** | {_metric_cells(metrics['fleet'])} |")
    switch = (
        f"**on**: automatic rollbacks are off ({_cell(kill_switch)})"
        if kill_switch
        else "**off**: automatic rollbacks may run"
    )
    return (
        "# build-monitor fleet\n\n"
        f"Kill switch: {switch}\n\n" + "\n".join(states) + "\n\n"
        "## Metrics: last 7 days / last 30 days\n\n" + "\n".join(figures) + "\n\n"
        "Success: passed of finished builds. Push→red: from the push (or the poll that found "
        "it) to the failed build. MTTR: from red to the next passing build or verified "
        "rollback. Means over each window. Rollbacks: done/refused.\n"
    )


def overall_state(states: Sequence[str]) -> str:
    if any(state == "failing" for state in states):
        return "failing"
    if states and all(state in ("healthy", ROLLED_BACK) for state in states):
        return ROLLED_BACK if ROLLED_BACK in states else "healthy"
    return "unknown"


def _metric_cells(windows: Mapping[str, Any]) -> str:
    short, long = windows.get("7d", {}), windows.get("30d", {})

    def pair(name: str, formatter: Any) -> str:
        return f"{formatter(short.get(name))} / {formatter(long.get(name))}"

    def rollbacks(window: Mapping[str, Any]) -> str:
        return f"{window.get('rollbacks_done', 0)}/{window.get('rollbacks_refused', 0)}"

    return " | ".join(
        [
            pair("success_rate", format_rate),
            pair("detection_s", format_duration),
            pair("culprit_s", format_duration),
            pair("mttr_s", format_duration),
            f"{rollbacks(short)} / {rollbacks(long)}",
        ]
    )


def _links(row: FleetRow) -> str:
    """The service's name links to its status; these, to the rest."""
    links = [
        f"[builds]({artifact_link(build_history_key(row.name))})",
        f"[culprit]({artifact_link(culprit_key(row.name))})",
    ]
    if row.latest_flow_run_id:
        links.append(f"[run]({flow_run_link(row.latest_flow_run_id)})")
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
    """`finished` is the rollback's final status, None while it runs; `planned`, how many steps
    its plan has (a run may add checks, e.g. `check_restored` after a failure)."""
    if not steps and finished is None:
        return Progress(0.0, "deciding: checking the target and the gates")
    done = sum(1 for s in steps if s.status == "done")
    listed = ", ".join(f"{s.name} {s.status}" for s in steps) or "no steps"
    if finished is not None:
        return Progress(100.0, f"{finished}: {listed}")
    percent = 100.0 * done / max(planned, len(steps)) if steps else 0.0
    of = f" of {planned} planned" if planned else ""
    return Progress(round(min(percent, 99.0), 1), f"{done}{of} steps done: {listed}")


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


def _clip(text: str, limit: int = SHORT_SUBJECT) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
