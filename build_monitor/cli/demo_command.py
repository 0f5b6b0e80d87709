"""`build-monitor demo`: the whole loop on a generated sample service, with nothing configured."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from build_monitor.cli.app import JsonOption, app, get_config, print_json
from build_monitor.cli.bisect_command import describe_bisection
from build_monitor.cli.check_commands import describe_build, flow_run_link
from build_monitor.cli.progress import note, step
from build_monitor.prefect_runtime import prefect_api, ui_url
from build_monitor.sample.demo import DEMO_SERVICE, prepare_demo
from build_monitor.settings import data_dir
from build_monitor.validation import validate_service_name


@app.command("demo")
def demo(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to create the demo (default: data dir).")
    ] = None,
    builder: Annotated[
        str, typer.Option(help="auto (docker if usable, else local), docker or local.")
    ] = "auto",
    service: Annotated[
        str, typer.Option(help="Name of the sample service; its live container is bm-NAME.")
    ] = DEMO_SERVICE,
    json_output: JsonOption = False,
) -> None:
    """Create a sample Rust service with a few good commits and a breaking one, and monitor it."""
    from flows.check import check_commit
    from flows.monitor import monitor
    from flows.rollback import rollback_service

    if builder not in ("auto", "docker", "local"):
        raise typer.BadParameter("use auto, docker or local", param_hint="--builder")
    validate_service_name(service)
    target = directory or data_dir() / "demo"
    with step(f"preparing the sample service in {target}"):
        setup = prepare_demo(target, builder, note, service)  # type: ignore[arg-type]
    note(f"builder: {setup.builder}; config: {setup.config_path}")
    config_path = str(setup.config_path)
    with prefect_api(note) as api_url:
        initial = None
        if setup.builder == "docker":
            live = setup.repo.commits[0]
            with step(f"deploying {live[:10]} as the live container bm-{service}"):
                initial = rollback_service(
                    get_config(setup.config_path),
                    service,
                    action="deploy",
                    commit=live,
                    reason="demo: first deployment",
                    trigger="demo",
                )
            note(initial.summary())
        with step(f"checking the last good commit {setup.repo.good[:10]}"):  # type: ignore[index]
            baseline = check_commit(
                service=service,
                commit=setup.repo.good,
                trigger="demo",
                config_path=config_path,
            )
        note(describe_build(baseline))
        with step("monitoring the branch head (a new failure starts a bisection)"):
            result: dict[str, Any] = monitor(
                service=service, trigger="demo", config_path=config_path
            )
    builds = result["builds"]
    head = builds[-1] if builds else None
    document = {
        "service": service,
        "builder": setup.builder,
        "config": config_path,
        "repository": str(setup.repo.path),
        "baseline": baseline,
        "head": head,
        "state": result["state"],
        "bisection": _without_report(result.get("bisection")),
        "initial_deployment": initial.to_json() if initial else None,
        "expected_culprit": setup.repo.culprit,
        "prefect_ui": ui_url(api_url),
        "flow_run_url": flow_run_link(api_url, head["flow_run_id"]) if head else None,
    }
    if json_output:
        print_json(document)
    else:
        if head:
            typer.echo(describe_build(head))
            if head.get("log_excerpt"):
                typer.echo(head["log_excerpt"])
        bisection = result.get("bisection")
        if bisection:
            typer.echo("")
            typer.echo(describe_bisection(bisection))
            if bisection.get("rollback"):
                typer.echo(describe_rollback(bisection["rollback"]))
        rollback = (bisection or {}).get("rollback") or {}
        if rollback.get("status") == "succeeded":
            typer.echo(
                f"\nThe branch head is still red ({service} is {result['state']}), "
                "but the rollback put a verified good build in place."
            )
        else:
            typer.echo(f"\n{service} is {result['state']}.")
        typer.echo(f"See the runs in the Prefect UI: {document['prefect_ui']}")
        if document["flow_run_url"]:
            typer.echo(f"This run: {document['flow_run_url']}")
        typer.echo(f"Try: {_this_command()} history {service} --config {config_path}")
    detected = head is not None and head["status"] == "failed"
    rolled_back = bool(
        result.get("bisection")
        and (result["bisection"].get("rollback") or {}).get("status") == "succeeded"
    )
    raise typer.Exit(0 if detected and rolled_back else 1)


def describe_rollback(rollback: dict[str, Any]) -> str:
    verification = rollback.get("verification") or {}
    return (
        f"rollback ({rollback.get('strategy')}): {rollback.get('status')}, "
        f"to {str(rollback.get('to'))[:10]}; verification {verification.get('status')}"
        + (f": {verification.get('detail')}" if verification.get("detail") else "")
    )


def _this_command() -> str:
    """How the user can run build-monitor again (the venv's path when it is not on PATH)."""
    invoked = Path(sys.argv[0])
    on_path = shutil.which("build-monitor")
    if on_path and invoked.name == "build-monitor" and Path(on_path).resolve() == invoked.resolve():
        return "build-monitor"
    return str(invoked) if invoked.name == "build-monitor" else "build-monitor"


def _without_report(bisection: Any) -> Any:
    if isinstance(bisection, dict):
        return {k: v for k, v in bisection.items() if k != "report"}
    return bisection
