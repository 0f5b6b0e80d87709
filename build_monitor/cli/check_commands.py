"""`check` and `monitor`: run the flows now, from the command line."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from build_monitor.cli.app import ConfigOption, JsonOption, app, get_config, print_json
from build_monitor.cli.preflight import check_refs
from build_monitor.cli.progress import note, step
from build_monitor.prefect_runtime import prefect_api, ui_url
from build_monitor.validation import validate_ref, validate_service_name

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def describe_build(report: dict[str, Any]) -> str:
    line = f"{report['service']} {report['short']} {report['status']}"
    if report["status"] in ("failed", "error"):
        where = f" at {report['stage']}" if report["stage"] else ""
        line += f"{where}: {report['signature']}"
    if report.get("duration_s") is not None:
        line += f" ({report['duration_s']:.1f}s)"
    return line


def flow_run_link(api_url: str, flow_run_id: str | None) -> str | None:
    return f"{ui_url(api_url)}/runs/flow-run/{flow_run_id}" if flow_run_id else None


@app.command("check")
def check(
    service: Annotated[str, typer.Argument(help="Service name.")],
    commit: Annotated[
        str | None, typer.Option(help="Commit, branch or tag (default: the branch head).")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Build, test and health-check one commit now, and record it.

    Exit 0 if it passed, 1 if it failed, 2 on an infrastructure error or bad input.
    """
    from flows.check import check_commit

    loaded = get_config(config)
    service_config = loaded.service(validate_service_name(service))
    if commit is not None:
        validate_ref(commit)
    with prefect_api(note) as api_url:
        check_refs(loaded, service_config, commit)
        with step(f"checking {service} {commit or 'head'}"):
            report = check_commit(
                service=service,
                commit=commit,
                trigger="cli",
                config_path=str(loaded.source) if loaded.source else None,
            )
    link = flow_run_link(api_url, report.get("flow_run_id"))  # type: ignore[arg-type]
    if json_output:
        print_json({**report, "flow_run_url": link})
    else:
        typer.echo(describe_build(report))
        if report["status"] != "passed" and report.get("log_excerpt"):
            typer.echo(str(report["log_excerpt"]))
        if link:
            typer.echo(f"flow run: {link}")
    status = report["status"]
    raise typer.Exit(
        EXIT_PASSED if status == "passed" else EXIT_FAILED if status == "failed" else EXIT_ERROR
    )


@app.command("monitor")
def monitor_once(
    service: Annotated[str, typer.Argument(help="Service name.")],
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Fetch a service's branch now and build what is new (what the polling deployment does)."""
    from flows.monitor import monitor

    loaded = get_config(config)
    service_config = loaded.service(validate_service_name(service))
    with prefect_api(note):
        check_refs(loaded, service_config)
        with step(f"monitoring {service}"):
            result = monitor(
                service=service,
                trigger="cli",
                config_path=str(loaded.source) if loaded.source else None,
            )
    if json_output:
        print_json(result)
        return
    builds: list[dict[str, Any]] = result["builds"]  # type: ignore[assignment]
    if not builds:
        typer.echo(f"{service}: nothing new at {str(result['head'])[:10]}")
    for report in builds:
        typer.echo(describe_build(report))
    typer.echo(f"{service} is {result['state']}")
