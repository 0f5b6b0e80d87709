"""Recording a build's result: into the history database, or, when it cannot take it, into the
local spool (written on the next open) with a one-line error that says where it waits."""

from __future__ import annotations

from build_monitor.history import spool
from build_monitor.history.db import HistoryUnavailableError, get_engine, session_scope
from build_monitor.history.models import Build
from build_monitor.history.spool import BuildResult


class ResultSpooledError(HistoryUnavailableError):
    """The result was kept in the spool; nothing is lost, and retrying now would not help."""


def finish_build_or_spool(*, database_url: str, result: BuildResult) -> Build:
    try:
        if spool.pending(database_url):
            spool.replay(database_url, get_engine(database_url))
        with session_scope(database_url) as session:
            return spool.apply_build_result(session=session, result=result)
    except HistoryUnavailableError as exc:
        path = spool.append(database_url, result)
        raise ResultSpooledError(
            f"{exc}; the {result.status.value} result of build {result.build_id} is kept in "
            f"{path} and written by the next command that opens the database"
        ) from None
