"""`deploy`, `rollback`, `emergency-rollback` and `auto-rollback`: get a service back to a good
state, and the kill switch of automatic rollbacks.

Exit codes: 0 done (or nothing to do, or a dry run), 1 the rollback failed or its verification
failed (what had changed was undone), 2 bad input or an infrastructure error, 3 refused by a
gate (nothing was changed).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import typer

from build_monitor.cli.app import ConfigOption, JsonOption, app, get_config, print_json
from build_monitor.cli.check_commands import flow_run_link
from build_monitor.cli.preflight import check_refs
from build_monitor.cli.progress import note, step
from build_monitor.config import Config
from build_monitor.errors import InvalidInputError
from build_monitor.prefect_runtime import prefect_api
from build_monitor.rollback.actions import DEPLOY, EMERGENCY, ROLLBACK
from build_monitor.rollback.outcome import RollbackReport
from build_monitor.rollback.plan import Action
from build_monitor.validation import validate_ref, validate_service_name

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED = 0, 1, 2, 3
StrategyChoice = Literal["redeploy", "revert", "both"]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Decide and report; change nothing (shadow mode).")
]


def exit_code(outcome: RollbackReport) -> int:
    if outcome.ok:
        return EXIT_OK
    return EXIT_REFUSED if outcome.status == "refused" else EXIT_FAILED


def recover_rollbacks(config: Config) -> list[dict[str, Any]]:
    """Put back the live containers of rollbacks whose process was killed mid-way (`status`
    runs this, as do `start` and every monitor run); what was recovered."""
    from tasks.rollback import recover_all_services

    return [dataclasses.asdict(recovered) for recovered in recover_all_services(config)]


def describe_outcome(outcome: dict[str, Any]) -> list[str]:
    moved = f"{(outcome['from'] or 'nothing')[:10]} -> {(outcome['to'] or '?')[:10]}"
    lines = [
        f"{outcome['action']} {outcome['service']} #{outcome['rollback_id']} "
        f"({outcome['strategy']}, {outcome['trigger']}): {moved}: {outcome['status']}"
    ]
    for gate in outcome["gates"]:
        if not gate["passed"]:
            lines.append(f"  gate {gate['gate']}: {gate['detail']}")
    for item in outcome["steps"]:
        lines.append(f"  {item['status']:<8} {item['name']}: {item['detail'] or ''}")
    verification = outcome["verification"]
    if verification["status"]:
        lines.append(f"  verification {verification['status']}: {verification['detail']}")
    if outcome["error"]:
        lines.append(f"  error: {outcome['error']}")
    return lines


def _run(
    loaded: Config,
    service: str,
    *,
    action: Action,
    commit: str | None,
    reason: str,
    strategy: StrategyChoice | None = None,
    culprit: str | None = None,
    dry_run: bool,
    json_output: bool,
) -> None:
    from flows.rollback import rollback_service

    loaded.service(validate_service_name(service))
    for ref in (commit, culprit):
        if ref is not None:
            validate_ref(ref)
    label = f"{action} {service}" + (f" to {commit}" if commit else "")
    with prefect_api(note) as api_url:
        check_refs(loaded, loaded.service(service), commit, culprit)
        with step(label):
            outcome = rollback_service(
                loaded,
                service,
                commit=commit,
                reason=reason,
                action=action,
                strategy=strategy,
                culprit=culprit,
                dry_run=dry_run,
                trigger="cli",
            )
    document = outcome.to_json()
    document["flow_run_url"] = flow_run_link(api_url, outcome.flow_run_id)
    if json_output:
        print_json(document)
    else:
        failed = not outcome.ok
        for index, line in enumerate(describe_outcome(document)):
            typer.secho(line, fg=typer.colors.RED if failed and index == 0 else None, err=False)
        if document["flow_run_url"]:
            typer.echo(f"flow run: {document['flow_run_url']}")
    raise typer.Exit(exit_code(outcome))


@app.command(ROLLBACK.name)
def rollback(
    service: Annotated[str, typer.Argument(help="Service name.")],
    commit: Annotated[str, typer.Argument(help="The good commit to go back to.")],
    reason: Annotated[str, typer.Argument(help="Why (recorded in the history).")],
    strategy: Annotated[
        StrategyChoice | None,
        typer.Option(help="redeploy, revert or both (default: the service's [rollback])."),
    ] = None,
    culprit: Annotated[
        str | None,
        typer.Option(help="Revert only this commit (default: revert everything after COMMIT)."),
    ] = None,
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Roll SERVICE back to COMMIT, which must be on its branch and pass (built first if it
    has no passing build). Exit 0 done, 1 failed, 2 bad input, 3 refused by a gate."""
    if not reason.strip():
        raise InvalidInputError("REASON must not be empty")
    _run(
        get_config(config),
        service,
        action=ROLLBACK.action,
        commit=commit,
        reason=reason,
        strategy=strategy,
        culprit=culprit,
        dry_run=dry_run,
        json_output=json_output,
    )


@app.command(EMERGENCY.name)
def emergency_rollback(
    service: Annotated[str, typer.Argument(help="Service name.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "emergency",
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Right away, without bisecting: redeploy the last known good build and verify it.
    Exit 0 done, 1 failed, 2 bad input, 3 refused."""
    _run(
        get_config(config),
        service,
        action=EMERGENCY.action,
        commit=None,
        reason=reason,
        dry_run=dry_run,
        json_output=json_output,
    )


@app.command(DEPLOY.name)
def deploy(
    service: Annotated[str, typer.Argument(help="Service name.")],
    commit: Annotated[
        str | None, typer.Option(help="Commit to run (default: the branch head).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "deploy",
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a passing commit as SERVICE's live container `bm-SERVICE` (start-then-stop
    handover, verified on the live port). Exit 0 done, 1 failed, 2 bad input, 3 refused."""
    _run(
        get_config(config),
        service,
        action=DEPLOY.action,
        commit=commit,
        reason=reason,
        dry_run=dry_run,
        json_output=json_output,
    )


@app.command("auto-rollback")
def auto_rollback(
    action: Annotated[
        Literal["status", "enable", "disable"],
        typer.Argument(help="status, enable or disable (the kill switch file)."),
    ] = "status",
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show or flip the kill switch that stops every automatic rollback (manual ones still run).

    `disable` creates the kill switch file; `enable` removes it. The Prefect variable named in
    [rollback] kill_switch_variable stops them too (set it in the Prefect UI)."""
    loaded = get_config(config, required=False)
    path = loaded.rollback.kill_switch_path()
    if action == "disable":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("automatic rollbacks disabled by `build-monitor auto-rollback disable`\n")
    elif action == "enable":
        path.unlink(missing_ok=True)
    document = {
        "automatic_rollbacks": "disabled" if path.exists() else "enabled",
        "kill_switch_file": str(path),
        "kill_switch_variable": loaded.rollback.kill_switch_variable,
        "auto_services": [s.name for s in loaded.services if s.rollback.auto],
    }
    if json_output:
        print_json(document)
        return
    typer.echo(
        f"automatic rollbacks: {document['automatic_rollbacks']} (file {path}; Prefect "
        f"variable {document['kill_switch_variable']} also disables them when true)"
    )
