"""The local spool: build results that the history database could not take (locked, read-only,
down) wait in a JSON-lines file under the data dir, and are written by the next process that
opens that database. Entries name their database by a fingerprint of its URL, never the URL
(it may hold a password)."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from build_monitor.history import crud
from build_monitor.history.models import Build, BuildStage, BuildStatus, ServiceState, utcnow
from build_monitor.settings import data_dir

logger = logging.getLogger("build_monitor.history")

SPOOL_NAME = "history-spool.jsonl"


class BuildResult(BaseModel):
    """What finishing a build writes: its result, and whether it sets the service's state."""

    build_id: int
    status: BuildStatus
    stage: BuildStage | None = None
    signature: str | None = None
    log_excerpt: str | None = None
    image: str | None = None
    attempts: int = 1
    update_state: bool = True
    finished_at: datetime | None = None


class SpoolEntry(BaseModel):
    kind: Literal["build_result"] = "build_result"
    database: str
    result: BuildResult


def spool_path() -> Path:
    return data_dir() / SPOOL_NAME


def database_fingerprint(database_url: str) -> str:
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            database_url = "sqlite:///" + str(Path(path).resolve())
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


def apply_build_result(*, session: Session, result: BuildResult, replayed: bool = False) -> Build:
    """Finish the build; a replayed result leaves a service state set by a later build alone."""
    build = crud.finish_build(
        session=session,
        build_id=result.build_id,
        status=result.status,
        stage=result.stage,
        signature=result.signature,
        log_excerpt=result.log_excerpt,
        image=result.image,
        attempts=result.attempts,
        finished_at=result.finished_at,
    )
    if result.update_state and result.status in (BuildStatus.passed, BuildStatus.failed):
        service = crud.get_service(session=session, name=build.service)
        newer_state = (
            replayed
            and service is not None
            and service.last_build_id is not None
            and service.last_build_id > result.build_id
        )
        if not newer_state:
            passed = result.status is BuildStatus.passed
            state = ServiceState.healthy if passed else ServiceState.failing
            crud.set_service_state(
                session=session, name=build.service, state=state, last_build_id=build.id
            )
    return build


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Only one process at a time appends to or rewrites the spool."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append(database_url: str, result: BuildResult) -> Path:
    """Keep a result for later; returns the spool file."""
    path = spool_path()
    if result.finished_at is None:
        result = result.model_copy(update={"finished_at": utcnow()})
    entry = SpoolEntry(database=database_fingerprint(database_url), result=result)
    with _locked(path), open(path, "a", encoding="utf-8") as spool:
        spool.write(entry.model_dump_json() + "\n")
        spool.flush()
        os.fsync(spool.fileno())
    return path


def pending(database_url: str) -> list[BuildResult]:
    """The results spooled for this database, oldest first."""
    path = spool_path()
    if not path.exists():
        return []
    fingerprint = database_fingerprint(database_url)
    return [entry.result for entry in _read(path) if entry.database == fingerprint]


def _read(path: Path) -> list[SpoolEntry]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(SpoolEntry.model_validate_json(line))
        except ValidationError:
            logger.warning("ignoring unreadable line %d of %s", number, path)
    return entries


def _rewrite(path: Path, entries: list[SpoolEntry]) -> None:
    if not entries:
        path.unlink(missing_ok=True)
        return
    partial = path.with_suffix(".partial")
    partial.write_text("".join(e.model_dump_json() + "\n" for e in entries), encoding="utf-8")
    os.replace(partial, path)


def replay(database_url: str, engine: Engine) -> int:
    """Write this database's spooled results, each in its own transaction; what cannot be
    written yet stays spooled. Returns how many were written. Never raises."""
    path = spool_path()
    if not path.exists():
        return 0
    fingerprint = database_fingerprint(database_url)
    written = 0
    with _locked(path):
        entries = _read(path)
        kept: list[SpoolEntry] = []
        for position, entry in enumerate(entries):
            if entry.database != fingerprint:
                kept.append(entry)
                continue
            try:
                with Session(engine, expire_on_commit=False) as session:
                    apply_build_result(session=session, result=entry.result, replayed=True)
                    session.commit()
            except LookupError:
                logger.warning(
                    "dropping the spooled result of build %d: the database has no such build",
                    entry.result.build_id,
                )
                continue
            except SQLAlchemyError as exc:
                logger.warning(
                    "%d spooled result(s) still wait in %s: %s",
                    sum(1 for e in entries[position:] if e.database == fingerprint),
                    path,
                    type(exc).__name__,
                )
                kept.extend(entries[position:])
                break
            written += 1
        _rewrite(path, kept)
    if written:
        logger.warning("wrote %d spooled build result(s) from %s", written, path)
    return written
