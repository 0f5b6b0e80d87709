"""Prefect's log lines on the terminal, without their tracebacks.

A task or flow that fails inside a command (a build whose infrastructure errors, a bisection
that hits an error mid-flow) makes Prefect log the exception with its traceback on the console.
The command already ends with one line saying what went wrong, so on the terminal Prefect's
record keeps its one-line message and loses the traceback. The flow run's logs in the Prefect
UI (Prefect's API log handler) keep it, and BUILD_MONITOR_DEBUG=1 shows it here too.
"""

from __future__ import annotations

import os
import sys

_HANDLER_CLASS_VARIABLE = "PREFECT_LOGGING_HANDLERS_CONSOLE_CLASS"
_HANDLER_CLASS = "build_monitor.cli.prefect_console.ConsoleWithoutTracebacks"
# Serving keeps Prefect's full console output: its log is where a server's operator looks.
_KEEPS_TRACEBACKS = {"start"}


def keep_tracebacks_off_the_terminal(command: str | None) -> None:
    """For this command: Prefect's console handler drops tracebacks. When Prefect has not set
    up its logging yet, its own config override (an environment variable) names the handler
    class; when it has, its console handler's formatter is wrapped in place. Never imports
    Prefect itself (a command that needs none stays fast)."""
    if os.environ.get("BUILD_MONITOR_DEBUG") or command in _KEEPS_TRACEBACKS:
        return
    os.environ.setdefault(_HANDLER_CLASS_VARIABLE, _HANDLER_CLASS)
    if "prefect.logging.configuration" in sys.modules:
        from build_monitor.cli.prefect_console import drop_tracebacks_from_console_handlers

        drop_tracebacks_from_console_handlers()
