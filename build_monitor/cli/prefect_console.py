"""Prefect's console handler without tracebacks (see build_monitor.cli.terminal_logs). Imports
Prefect, so only loaded once Prefect is (its logging config names this handler class)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prefect.logging.handlers import PrefectConsoleHandler

Format = Callable[[logging.LogRecord], str]


def format_without_traceback(format_record: Format) -> Format:
    def format(record: logging.LogRecord) -> str:
        if not (record.exc_info or record.exc_text or record.stack_info):
            return format_record(record)
        # A copy: the handlers after this one (a user's log file) still get the traceback.
        copy = logging.makeLogRecord(record.__dict__)
        copy.exc_info, copy.exc_text, copy.stack_info = None, None, None
        # `exc_info=True` outside an `except` leaves (None, None, None): nothing was dropped.
        had_traceback = bool(record.exc_text) or bool(record.exc_info and record.exc_info[0])
        suffix = " (traceback in the flow run's logs)" if had_traceback else ""
        return format_record(copy) + suffix

    return format


class ConsoleWithoutTracebacks(PrefectConsoleHandler):
    def format(self, record: logging.LogRecord) -> str:
        return format_without_traceback(super().format)(record)


class _FormatterWithoutTraceback(logging.Formatter):
    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return format_without_traceback(self.inner.format)(record)


def drop_tracebacks_from_console_handlers() -> None:
    """Prefect's logging is set up already: wrap its console handlers' formatters in place."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, ConsoleWithoutTracebacks) or not isinstance(
            handler, PrefectConsoleHandler
        ):
            continue
        if not isinstance(handler.formatter, _FormatterWithoutTraceback):
            handler.setFormatter(
                _FormatterWithoutTraceback(handler.formatter or logging.Formatter())
            )
