"""Engine and session handling for the history database (SQLite by default, any SQLAlchemy URL).
A database is upgraded to the newest schema when it is first opened in a process, and results
spooled while it could not be written are written then."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, create_engine

from build_monitor.errors import BuildMonitorError, ConfigError
from build_monitor.history import schema, spool

logger = logging.getLogger("build_monitor.history")

# How long a write waits for another process's lock: history writes take milliseconds, so a
# lock held this long is held for good (a stuck or paused process), not contention.
SQLITE_BUSY_TIMEOUT_S = 10.0


class HistoryUnavailableError(BuildMonitorError):
    """The history database cannot be used now: locked, read-only or unreachable."""


class HistoryLockedError(HistoryUnavailableError):
    """Another process holds the database's write lock (worth retrying)."""


class HistoryReadOnlyError(HistoryUnavailableError):
    """The database file or its directory cannot be written."""


class HistoryUnreachableError(HistoryUnavailableError):
    """The database cannot be opened or reached (server down, file cannot be opened)."""


# What a retry may cure.
TRANSIENT_HISTORY_ERRORS = (HistoryLockedError, HistoryUnreachableError)


def unavailable_error(database_url: str, exc: OperationalError) -> HistoryUnavailableError:
    """A one-line error naming the database, from the driver's message (never the SQL)."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "unavailable"
    where, lowered = redact(database_url), reason.lower()
    if "locked" in lowered or "busy" in lowered:
        return HistoryLockedError(
            f"the history database {where} is locked: another process has held it for over "
            f"{SQLITE_BUSY_TIMEOUT_S:g} s"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return HistoryReadOnlyError(
            f"the history database {where} is read-only: build-monitor cannot record there"
        )
    return HistoryUnreachableError(f"cannot use the history database {where}: {reason}")


def _enable_sqlite_safety(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(database_url: str) -> Engine:
    """One engine per URL per process, with the schema upgraded (once, also across threads)."""
    with _engines_lock:
        engine = _engines.get(database_url)
        if engine is None:
            engine = _engines[database_url] = _open(database_url)
        return engine


def _make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
        )
        event.listen(engine, "connect", _enable_sqlite_safety)
        return engine
    return create_engine(database_url, pool_pre_ping=True)


@contextmanager
def _opening(database_url: str) -> Iterator[None]:
    """Errors of opening and upgrading become one line naming the database (never the SQL)."""
    try:
        yield
    except OperationalError as exc:
        raise unavailable_error(database_url, exc) from None
    except (SQLAlchemyError, ImportError, ValueError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(
            f"cannot open the history database {redact(database_url)}: {reason}"
        ) from None


def _open(database_url: str) -> Engine:
    with _opening(database_url):
        engine = _make_engine(database_url)
        schema.upgrade(engine, redact(database_url))
    spool.replay(database_url, engine)
    return engine


def sqlite_file_missing(database_url: str) -> bool:
    path = database_url.split("///", 1)[-1] if database_url.startswith("sqlite") else ""
    return bool(path) and path != ":memory:" and not Path(path).exists()


def schema_status(database_url: str) -> schema.SchemaStatus:
    """The database's schema revision, without changing anything."""
    if sqlite_file_missing(database_url):
        return schema.SchemaStatus(current=None, head=schema.head_revision())
    with _opening(database_url):
        engine = _make_engine(database_url)
        try:
            return schema.status(engine, redact(database_url))
        finally:
            engine.dispose()


def upgrade_database(database_url: str) -> schema.UpgradeResult:
    """Upgrade now (as every open does) and say what changed; spooled results are written."""
    with _opening(database_url):
        engine = _make_engine(database_url)
        try:
            result = schema.upgrade(engine, redact(database_url))
        finally:
            engine.dispose()
    get_engine(database_url)
    return result


def redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


@contextmanager
def session_scope(database_url: str) -> Iterator[Session]:
    """A transaction: committed on success, rolled back on any error. A database that is locked,
    read-only or unreachable raises a HistoryUnavailableError that names it."""
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise unavailable_error(database_url, exc) from None
        except BaseException:
            session.rollback()
            raise
