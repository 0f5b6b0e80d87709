"""`build-monitor bisect`: find the commit that broke a service."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from build_monitor.cli.app import ConfigOption, JsonOption, app, get_config, print_json
from build_monitor.cli.check_commands import flow_run_link
from build_monitor.cli.preflight import check_bisect_range
from build_monitor.cli.progress import note, step
from build_monitor.prefect_runtime import prefect_api
from build_monitor.validation import validate_ref, validate_service_name

EXIT_CONFIRMED, EXIT_INCONCLUSIVE = 0, 3


def describe_bisection(report: dict[str, Any]) -> str:
    if report["culprit"]:
        return (
            f"{report['service']}: culprit {report['culprit'][:10]} "
            f"({report['culprit_author']}: {report['culprit_subject']}), "
            f"confidence {report['confidence']:.1%}, {report['builds']} builds\n"
            f"failure: {report['signature']}"
        )
    suspects = ", ".join(f"{s['commit'][:10]} ({s['probability']:.0%})" for s in report["suspects"])
    line = f"{report['service']}: {report['status']} after {report['builds']} builds"
    return f"{line}\n{report['reason']}" + (f"\nsuspects: {suspects}" if suspects else "")


@app.command("bisect")
def bisect_command(
    service: Annotated[str, typer.Argument(help="Service name.")],
    good: Annotated[
        str | None, typer.Option(help="A commit known good (default: the last passing build).")
    ] = None,
    bad: Annotated[
        str | None, typer.Option(help="A commit that fails (default: the branch head).")
    ] = None,
    parallel: Annotated[
        int | None, typer.Option(min=1, max=16, help="Probes per round (default from config).")
    ] = None,
    flake_prior: Annotated[
        float | None,
        typer.Option(min=0.0, max=0.95, help="Prior flake rate of the failing test."),
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Find the commit between GOOD and BAD that broke SERVICE, and verify it.

    Exit 0 when a culprit is confirmed, 3 when inconclusive, 2 on bad input or an
    infrastructure error.
    """
    from flows.bisect import bisect

    loaded = get_config(config)
    service_config = loaded.service(validate_service_name(service))
    for ref in (good, bad):
        if ref is not None:
            validate_ref(ref)
    with prefect_api(note) as api_url:
        check_bisect_range(loaded, service_config, good=good, bad=bad)
        with step(f"bisecting {service}"):
            report = bisect(
                service=service,
                good=good,
                bad=bad,
                parallel=parallel,
                flake_prior=flake_prior,
                trigger="cli",
                config_path=str(loaded.source) if loaded.source else None,
            )
    link = flow_run_link(api_url, report.get("flow_run_id"))
    if json_output:
        print_json({**report, "flow_run_url": link})
    else:
        typer.echo(describe_bisection(report))
        if link:
            typer.echo(f"flow run: {link}")
    confirmed = report["status"] == "confirmed" and report["culprit"]
    raise typer.Exit(EXIT_CONFIRMED if confirmed else EXIT_INCONCLUSIVE)
