"""What the artifacts say: a service's status, its build history, the fleet dashboard and the
progress of a bisection or a rollback."""

from __future__ import annotations

from datetime import UTC, datetime

from build_monitor.dashboard.render import (
    BuildRow,
    CommitRef,
    FleetRow,
    RunningRun,
    ServiceStatus,
    StepState,
    bisection_progress,
    build_history_table,
    fleet_dashboard_markdown,
    format_duration,
    overall_state,
    rollback_progress,
    service_status_markdown,
)

GOOD = CommitRef("a1b2c3d4e5f6", "Alice Good", "Add caching", datetime(2026, 12, 1, tzinfo=UTC))
BAD = CommitRef("d4e5f6a7b8c9", "Bob | Broke", "Double the input", detail="test: predict")


def test_service_status_shows_state_commits_live_container_and_running_runs() -> None:
    markdown = service_status_markdown(
        ServiceStatus(
            name="face-detection",
            state="failing",
            branch="main",
            last_good=GOOD,
            last_bad=BAD,
            live="build-monitor/face-detection:a1b2c3d, health check passed",
            running=[RunningRun("bisection", "1234-abcd", "a1b2c3d..d4e5f6a")],
        )
    )
    assert markdown.startswith("# face-detection: 🔴 failing")
    assert "`a1b2c3d` Alice Good: Add caching, 2026-12-01 00:00 UTC" in markdown
    # A pipe in a name would split the table cell.
    assert "`d4e5f6a` Bob \\| Broke: Double the input (test: predict)" in markdown
    assert "health check passed" in markdown
    assert "[bisection a1b2c3d..d4e5f6a](/runs/flow-run/1234-abcd)" in markdown
    assert "(/artifacts/key/build-history-face-detection)" in markdown
    assert "(/artifacts/key/culprit-face-detection)" in markdown


def test_a_service_never_built_says_so() -> None:
    markdown = service_status_markdown(
        ServiceStatus("svc", "unknown", "main", last_good=None, last_bad=None, live=None)
    )
    assert "- **Last good commit:** none yet\n" in markdown
    assert "- **Running:** nothing\n" in markdown


def test_build_history_keeps_the_last_twenty_with_short_shas() -> None:
    rows = [
        BuildRow(f"{i:040x}", "Alice", f"change {i}", "passed", None, None, 65.2) for i in range(25)
    ]
    table = build_history_table(rows)
    assert len(table) == 20
    assert table[0] == {
        "commit": "0000000",
        "author": "Alice",
        "subject": "change 0",
        "status": "passed",
        "stage": "",
        "signature": "",
        "duration": "1m 05s",
    }


def windows(rate: float | None, mttr: float | None, done: int = 0, refused: int = 0) -> dict:
    figures = {
        "success_rate": rate,
        "detection_s": 12.0,
        "culprit_s": None,
        "mttr_s": mttr,
        "rollbacks_done": done,
        "rollbacks_refused": refused,
    }
    return {"7d": figures, "30d": figures}


def test_the_fleet_dashboard_has_a_state_row_and_a_metrics_row_per_service() -> None:
    metrics = {
        "fleet": windows(0.75, 600, done=1, refused=2),
        "services": {"a": windows(0.5, 600, done=1, refused=2), "b": windows(1.0, None)},
    }
    rows = [
        FleetRow("a", "failing", BAD, "failed", latest_flow_run_id="run-1"),
        FleetRow("b", "healthy", GOOD, "passed"),
    ]
    markdown = fleet_dashboard_markdown(rows, metrics, kill_switch=None)
    lines = markdown.splitlines()
    state_a = next(line for line in lines if line.startswith("| **[a]("))
    assert "🔴 failing" in state_a and "| `d4e5f6a` Bob \\| Broke: Double the input |" in state_a
    assert "(/artifacts/key/service-status-a)" in state_a and "(/runs/flow-run/run-1)" in state_a
    # The metrics are a table of their own, after the heading that names the windows.
    metrics_part = markdown.split("## Metrics: last 7 days / last 30 days")[1]
    figures_a = next(line for line in metrics_part.splitlines() if line.startswith("| a |"))
    assert figures_a == "| a | 50% / 50% | 12s / 12s | - / - | 10m 00s / 10m 00s | 1/2 / 1/2 |"
    figures_b = next(line for line in metrics_part.splitlines() if line.startswith("| b |"))
    assert "100% / 100%" in figures_b and "| - / - |" in figures_b
    states = [line for line in markdown.split("## Metrics")[0].splitlines() if "**fleet**" in line]
    assert len(states) == 1 and "🔴 failing" in states[0]
    assert "| **fleet** | 75% / 75% |" in metrics_part
    # Narrow tables: 4 columns of state, 6 of metrics (the browser test measures the fit).
    assert "| Service | State | Last change | More |" in lines
    assert "| Service | Success | Push→red | Red→culprit | MTTR | Rollbacks |" in lines
    assert "Rollbacks: done/refused." in markdown
    assert "Kill switch: **off**" in markdown
    switched = fleet_dashboard_markdown(rows, metrics, kill_switch="Prefect variable x = 'on'")
    assert "Kill switch: **on**: automatic rollbacks are off (Prefect variable x = 'on')" in (
        switched
    )


def test_the_fleet_clips_long_subjects_but_keeps_sha_and_author() -> None:
    long = CommitRef("e" * 40, "Carol", "Rewrite the whole prediction pipeline for speed", GOOD.at)
    markdown = fleet_dashboard_markdown(
        [FleetRow("c", "healthy", long, "passed")],
        {"fleet": windows(1.0, None), "services": {}},
        kill_switch=None,
    )
    row = next(line for line in markdown.splitlines() if line.startswith("| **[c]("))
    assert "| `eeeeeee` Carol: Rewrite the whole… |" in row


def test_a_verified_redeploy_shows_rolled_back_and_says_the_branch_still_fails() -> None:
    markdown = service_status_markdown(
        ServiceStatus("svc", "rolled-back", "main", last_good=GOOD, last_bad=BAD, live="img")
    )
    assert markdown.startswith("# svc: 🟢 rolled back")
    assert "the live container runs a verified good build; the branch still fails" in markdown
    assert overall_state(["healthy", "rolled-back"]) == "rolled-back"
    assert overall_state(["healthy", "healthy"]) == "healthy"
    assert overall_state(["rolled-back", "failing"]) == "failing"
    assert overall_state(["healthy", "unknown"]) == "unknown"


def test_bisection_progress_follows_the_top_suspect() -> None:
    early = bisection_progress(
        {"a" * 40: 0.25, "b" * 40: 0.25, "c" * 40: 0.5, "d" * 40: 0.0},
        round_number=1,
        confidence=0.99,
    )
    assert early.description == (
        "after round 1: 3 of 4 candidates left; top suspect `ccccccc` at 50%"
    )
    assert 50 < early.percent < 51
    late = bisection_progress({"c" * 40: 0.995}, round_number=4, confidence=0.99)
    assert late.percent == 99.0  # never 100 before it is done
    done = bisection_progress({"c" * 40: 0.995}, round_number=4, confidence=0.99, done=True)
    assert done.percent == 100.0 and done.description.startswith("finished after round 4")


def test_rollback_progress_lists_its_steps() -> None:
    steps = [StepState("verify_target", "done"), StepState("move_live_tag", "running")]
    running = rollback_progress(steps, planned=4, finished=None)
    assert (running.percent, running.description) == (
        25.0,
        "1 of 4 planned steps done: verify_target done, move_live_tag running",
    )
    finished = rollback_progress(steps, planned=4, finished="succeeded")
    assert (finished.percent, finished.description) == (
        100.0,
        "succeeded: verify_target done, move_live_tag running",
    )
    # More steps than planned (a check after a failure) never reach 100% before the end.
    extra = [StepState(f"s{i}", "done") for i in range(5)]
    assert rollback_progress(extra, planned=4, finished=None).percent == 99.0
    assert rollback_progress([], planned=4, finished=None).description.startswith("deciding")


def test_durations_read_well() -> None:
    assert [format_duration(s) for s in (None, 4.4, 125, 3 * 3600 + 60, 3 * 86400)] == [
        "-",
        "4s",
        "2m 05s",
        "3h 01m",
        "3d 0h",
    ]
