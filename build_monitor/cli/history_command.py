"""`build-monitor history`: a service's builds, bisections (with the culprit report) and
rollbacks, newest first."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Annotated, Any

import typer
from sqlmodel import Session

from build_monitor.cli.app import ConfigOption, JsonOption, app, get_config, print_json
from build_monitor.history import bisections, crud
from build_monitor.history.db import HistoryUnavailableError, session_scope
from build_monitor.history.heartbeat import STALE_HEARTBEAT_AFTER
from build_monitor.history.models import Bisection
from build_monitor.history.reports import BuildReport
from build_monitor.rollback.outcome import RollbackReport
from build_monitor.validation import validate_service_name


def bisection_document(session: Session, bisection: Bisection) -> dict[str, Any]:
    """A recorded bisection, in the keys of `bisect --json` where they exist."""
    probes = bisections.probes_of(session=session, bisection_id=bisection.id or 0)
    return {
        "bisection_id": bisection.id,
        "status": bisection.status.value,
        "good": bisection.good,
        "bad": bisection.bad,
        "culprit": bisection.culprit,
        "culprit_author": bisection.culprit_author,
        "culprit_subject": bisection.culprit_subject,
        "confidence": bisection.confidence,
        "signature": bisection.signature,
        "builds": bisection.builds,
        "suspects": [
            {"commit": commit, "probability": probability}
            for commit, probability in json.loads(bisection.suspects or "[]")
        ],
        "reason": bisection.reason,
        "trigger": bisection.trigger,
        "flow_run_id": bisection.flow_run_id,
        "started_at": bisection.started_at,
        "finished_at": bisection.finished_at,
        "probes": [
            {
                "commit": p.commit,
                "outcome": p.outcome,
                "signature": p.signature,
                "duration_s": p.duration_s,
                "cached": p.cached,
            }
            for p in probes
        ],
        "report": bisection.report,
    }


def rollback_history(session: Session, service: str, limit: int) -> list[dict[str, Any]]:
    """The service's rollbacks, newest first, in the `rollback --json` shape."""
    return [
        RollbackReport.from_record(
            record, crud.list_rollback_steps(session=session, rollback_id=record.id or 0)
        ).to_json()
        for record in crud.list_rollbacks(session=session, service=service, limit=limit)
    ]


def describe_build(build: dict[str, Any]) -> str:
    duration = f"{build['duration_s']:.1f}s" if build["duration_s"] is not None else "-"
    detail = f" [{build['stage']}] {build['signature']}" if build["stage"] else ""
    if build["status"] == "error":
        detail = f" {build['signature']}"
    return (
        f"{build['short']} {build['status']:<11} {duration:>8}  "
        f"{build['subject'][:50]} ({build['author']}){detail}"
    )


def describe_bisections(bisections: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in bisections:
        found = (
            f"culprit {item['culprit'][:10]} ({item['culprit_subject']})"
            if item["culprit"]
            else item["reason"] or "no culprit"
        )
        lines.append(
            f"bisection #{item['bisection_id']} {item['status']:<12} "
            f"{item['good'][:10]}..{item['bad'][:10]} {item['builds']} builds: {found}"
        )
    return ["", "bisections:", *lines] if lines else []


def describe_rollbacks(rollbacks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in rollbacks:
        moved = f"{(item['from'] or 'nothing')[:10]} -> {(item['to'] or '?')[:10]}"
        verification = item["verification"]["status"] or "-"
        line = (
            f"{item['action']} #{item['rollback_id']} {item['status']:<11} {moved} "
            f"{item['strategy']} by {item['triggered_by'] or item['trigger']} "
            f"(verification {verification}): {item['reason']}"
        )
        if item["error"]:
            line += f" - {item['error']}"
        lines.append(line)
    return ["", "rollbacks:", *lines] if lines else []


@app.command("history")
def history(
    service: Annotated[str, typer.Argument(help="Service name.")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many of each.")] = 20,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a service's builds, bisections (with the latest culprit report) and rollbacks,
    newest first."""
    loaded = get_config(config)
    loaded.service(validate_service_name(service))
    with suppress(HistoryUnavailableError), session_scope(loaded.database_url) as session:
        # A read-only or locked database still shows its history, only unmarked.
        bisections.mark_interrupted_bisections(
            session=session, stale_heartbeat_after=STALE_HEARTBEAT_AFTER
        )
    with session_scope(loaded.database_url) as session:
        builds = [
            BuildReport.from_build(b).model_dump()
            for b in crud.list_builds(session=session, service=service, limit=limit)
        ]
        bisection_documents = [
            bisection_document(session, b)
            for b in bisections.list_bisections(session=session, service=service, limit=limit)
        ]
        rollbacks = rollback_history(session, service, limit)
    if json_output:
        print_json(
            {
                "service": service,
                "builds": builds,
                "bisections": bisection_documents,
                "rollbacks": rollbacks,
            }
        )
        return
    if not builds:
        typer.echo(f"{service}: no builds recorded")
    for build in builds:
        typer.echo(describe_build(build))
    for line in describe_bisections(bisection_documents) + describe_rollbacks(rollbacks):
        typer.echo(line)
    latest_report = next((b["report"] for b in bisection_documents if b["report"]), None)
    if latest_report:
        typer.echo("\n" + latest_report)
