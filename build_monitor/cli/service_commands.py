"""`list`, `status` and `history`: what is monitored and how it went."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from build_monitor.cli.app import ConfigOption, JsonOption, app, get_config, print_json
from build_monitor.cli.rollback_commands import recover_rollbacks
from build_monitor.cli.system import describe_recovered_bisection, recover_bisections
from build_monitor.config import Config
from build_monitor.dashboard.render import format_duration, format_rate
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import ServiceState
from build_monitor.history.reports import BuildReport


def service_summaries(config: Config) -> list[dict[str, Any]]:
    summaries = []
    with session_scope(config.database_url) as session:
        crud.mark_interrupted_builds(session=session, stale_after=timedelta(days=2))
        for service in config.services:
            record = crud.get_service(session=session, name=service.name)
            last = crud.latest_build(session=session, service=service.name)
            summaries.append(
                {
                    "name": service.name,
                    "repo": service.repo,
                    "branch": service.branch,
                    "builder": service.builder,
                    "state": (record.state if record else ServiceState.unknown).value,
                    "last_build": BuildReport.from_build(last).model_dump() if last else None,
                }
            )
    return summaries


def _describe_last(last: dict[str, Any] | None) -> str:
    if last is None:
        return "never built"
    detail = f" at {last['stage']}: {last['signature']}" if last["stage"] else ""
    return f"{last['short']} {last['status']}{detail}"


@app.command("list")
def list_services(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """List the configured services with their state and last build."""
    summaries = service_summaries(get_config(config))
    if json_output:
        print_json({"services": summaries})
        return
    if not summaries:
        typer.echo("no services configured")
    for summary in summaries:
        typer.echo(
            f"{summary['name']:<24} {summary['state']:<8} {summary['builder']:<6} "
            f"{summary['branch']:<16} {_describe_last(summary['last_build'])}"
        )


def overall_state(states: list[str]) -> str:
    if any(state == ServiceState.failing for state in states):
        return "failing"
    if states and all(state == ServiceState.healthy for state in states):
        return "healthy"
    return "unknown"


def prefect_api_in_use() -> dict[str, Any]:
    from build_monitor.prefect_runtime import configured_api_url, local_server_url

    configured = configured_api_url()
    if configured:
        return {"url": configured, "source": "PREFECT_API_URL"}
    local = local_server_url()
    if local:
        return {"url": local, "source": "local server started by build-monitor"}
    return {"url": None, "source": "none running; the next flow command starts a local server"}


def notification_channels(config: Config) -> list[dict[str, Any]]:
    from build_monitor.notifications.ledger import channel_health

    with session_scope(config.database_url) as session:
        return [dataclasses.asdict(health) for health in channel_health(session)]


def dashboard_metrics(config: Config) -> dict[str, Any]:
    """Success rate, detection time, time to culprit, MTTR and rollbacks over 7 and 30 days."""
    from build_monitor.history.metrics import dashboard_metrics as read_metrics

    with session_scope(config.database_url) as session:
        return read_metrics(
            session=session, services=[s.name for s in config.services], now=datetime.now(UTC)
        )


@app.command("status")
def status(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Show overall health, every service's state and the Prefect API in use."""
    loaded = get_config(config)
    summaries = service_summaries(loaded)
    document: dict[str, Any] = {
        "overall": overall_state([s["state"] for s in summaries]),
        "services": [
            {"name": s["name"], "state": s["state"], "last_build": s["last_build"]}
            for s in summaries
        ],
        "prefect_api": prefect_api_in_use(),
        "notification_channels": notification_channels(loaded),
        "database": loaded.database_url.split("@")[-1],
        "recovered_rollbacks": recover_rollbacks(loaded),
        "interrupted_bisections": recover_bisections(loaded, prefect_api_in_use()["url"]),
        "metrics": dashboard_metrics(loaded),
    }
    if json_output:
        print_json(document)
        return
    typer.echo(f"overall: {document['overall']}")
    for item in document["recovered_rollbacks"]:
        typer.echo(
            f"  {item['service']}: rollback #{item['rollback_id']} was killed mid-way; "
            "recovered, its previous live container serves again"
        )
    for item in document["interrupted_bisections"]:
        typer.echo(f"  {describe_recovered_bisection(item)}")
    for summary in summaries:
        typer.echo(
            f"  {summary['name']:<24} {summary['state']:<8} {_describe_last(summary['last_build'])}"
        )
    for channel in document["notification_channels"]:
        if channel["failing"]:
            typer.echo(
                f"  notification channel {channel['channel']} is failing: "
                f"{channel['last_failure_detail']}"
            )
    week = document["metrics"]["fleet"]["7d"]
    typer.echo(
        f"last 7 days: {week['builds']} builds, success {format_rate(week['success_rate'])}, "
        f"MTTR {format_duration(week['mttr_s'])}, rollbacks {week['rollbacks_done']} done "
        f"/ {week['rollbacks_refused']} refused"
    )
    api = document["prefect_api"]
    typer.echo(f"prefect api: {api['url'] or '-'} ({api['source']})")
