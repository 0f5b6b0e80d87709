"""Engine and session handling for the history database (SQLite by default, any SQLAlchemy URL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from build_monitor.errors import ConfigError
from build_monitor.history import models  # noqa: F401  (registers the tables)


def _enable_sqlite_safety(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(database_url: str) -> Engine:
    """One engine per URL per process, with the schema created (once, also across threads)."""
    with _engines_lock:
        engine = _engines.get(database_url)
        if engine is None:
            engine = _engines[database_url] = _create_engine(database_url)
        return engine


def _create_engine(database_url: str) -> Engine:
    try:
        if database_url.startswith("sqlite"):
            path = database_url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(database_url, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _enable_sqlite_safety)
        else:
            engine = create_engine(database_url, pool_pre_ping=True)
        SQLModel.metadata.create_all(engine)
    except (SQLAlchemyError, ImportError, ValueError, OSError) as exc:
        where = _redact(database_url)
        raise ConfigError(f"cannot open the history database {where}: {exc}") from None
    return engine


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


@contextmanager
def session_scope(database_url: str) -> Iterator[Session]:
    """A transaction: committed on success, rolled back on any error."""
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
