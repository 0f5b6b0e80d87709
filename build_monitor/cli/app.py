"""The typer application object and the helpers every command shares."""

from __future__ import annotations

import json
import os
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from build_monitor.config import Config, load_config
from build_monitor.errors import BuildMonitorError


def usage_error_line(exc: typer.TyperException) -> str:
    """typer's usage error as one line: the message and where to find the command's help."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {exc.format_message()}{hint}"


def _prints_help(exc: typer.TyperException) -> bool:
    # A group run without a subcommand "fails" by printing its help: keep typer's handling.
    return type(exc).__name__ == "NoArgsIsHelpError"


class _FriendlyErrors(TyperGroup):
    """Errors meant for the user become one line and an exit code, never a traceback."""

    def make_context(
        self, info_name: Any, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except typer.TyperException as exc:
            if _prints_help(exc):
                raise
            typer.secho(usage_error_line(exc), err=True, fg=typer.colors.RED)
            raise typer.Exit(exc.exit_code) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BuildMonitorError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(exc.exit_code) from None
        except typer.TyperException as exc:
            # typer bundles its own click: its usage errors are not click.ClickException.
            if _prints_help(exc):
                raise
            typer.secho(usage_error_line(exc), err=True, fg=typer.colors.RED)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, click.exceptions.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("BUILD_MONITOR_DEBUG"):
                raise
            typer.secho(
                f"internal error: {type(exc).__name__}: {exc} "
                "(set BUILD_MONITOR_DEBUG=1 to see the traceback)",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(2) from None


app = typer.Typer(
    name="build-monitor",
    cls=_FriendlyErrors,
    help="Build-failure detection, commit isolation and rollback for Rust services, on Prefect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="config.toml to use (default: $BUILD_MONITOR_CONFIG, else ./config.toml).",
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else.")]


# `build-monitor --config FILE COMMAND ...`: the file every command of this invocation reads
# unless it is given its own --config.
_invocation_config: ContextVar[Path | None] = ContextVar("invocation_config", default=None)


@app.callback()
def _invocation_options(ctx: typer.Context, config: ConfigOption = None) -> None:
    from build_monitor.cli.terminal_logs import keep_tracebacks_off_the_terminal

    _invocation_config.set(config)
    keep_tracebacks_off_the_terminal(ctx.invoked_subcommand)


def get_config(path: Path | None, *, required: bool = True) -> Config:
    return load_config(path if path is not None else _invocation_config.get(), required=required)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error to stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)
