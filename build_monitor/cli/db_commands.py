"""`build-monitor db`: the history database's schema, for operators. Every command that opens
the database upgrades it; these show the revision, or upgrade without doing anything else."""

from __future__ import annotations

from typing import Any

import typer

from build_monitor.cli.app import ConfigOption, JsonOption, app, get_config, print_json
from build_monitor.history.db import redact, schema_status, sqlite_file_missing, upgrade_database

db_app = typer.Typer(
    name="db",
    help="The history database's schema version: show it, or upgrade it.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")


@db_app.command("current")
def current(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Show the history database's schema revision and the revisions an upgrade would apply."""
    database_url = get_config(config).database_url
    exists = not sqlite_file_missing(database_url)
    status = schema_status(database_url)
    document: dict[str, Any] = {
        "database": redact(database_url),
        "exists": exists,
        "current": status.current,
        "head": status.head,
        "up_to_date": status.up_to_date,
        "detected": status.detected,
        "pending": status.pending,
    }
    if json_output:
        print_json(document)
        return
    if not exists:
        typer.echo(f"{document['database']}: not created yet (the first command creates it)")
    elif status.up_to_date:
        typer.echo(f"{document['database']}: revision {status.current} (up to date)")
    else:
        shown = status.current or f"none (tables match {status.detected})"
        typer.echo(
            f"{document['database']}: revision {shown}, head {status.head}; "
            f"an upgrade applies {', '.join(status.pending)}"
        )


@db_app.command("upgrade")
def upgrade(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Upgrade the history database to the newest schema, keeping every row."""
    database_url = get_config(config).database_url
    result = upgrade_database(database_url)
    document = {
        "database": redact(database_url),
        "from": result.before,
        "detected": result.detected,
        "to": result.after,
        "applied": result.applied,
    }
    if json_output:
        print_json(document)
        return
    if not result.applied:
        typer.echo(f"{document['database']}: already at revision {result.after}")
        return
    start = result.before or (
        f"unversioned (matched {result.detected})" if result.detected else "empty"
    )
    typer.echo(
        f"{document['database']}: upgraded {start} -> {result.after} "
        f"(applied {', '.join(result.applied)})"
    )
