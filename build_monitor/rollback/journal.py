"""A rollback's record in the history database: the run itself, and every step with what
undoing it needs, written before the step changes anything (so crash recovery can undo it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import Rollback, RollbackStatus, RollbackStep
from build_monitor.rollback.outcome import RollbackReport


@dataclass
class JournaledStep:
    """One step while it runs: set `detail` (and `undo` or `status`) before it ends."""

    id: int
    name: str
    undo: dict[str, Any] | None
    detail: str | None = None
    status: str = "done"


def _dumps(undo: dict[str, Any] | None) -> str | None:
    return json.dumps(undo) if undo is not None else None


@dataclass(frozen=True)
class RollbackJournal:
    database_url: str
    rollback_id: int

    @classmethod
    def open(cls, database_url: str, rollback: Rollback) -> RollbackJournal:
        """Record a new rollback as `running` (by this process) and journal its steps."""
        with session_scope(database_url) as session:
            record = crud.start_rollback(session=session, rollback=rollback)
            assert record.id is not None
            return cls(database_url, record.id)

    @contextmanager
    def step(self, name: str, undo: dict[str, Any] | None = None) -> Iterator[JournaledStep]:
        """A step that changes something: journaled as `running` with its undo before the
        body runs, then ended with the body's status, or `failed` when the body raises."""
        with session_scope(self.database_url) as session:
            record = crud.add_rollback_step(
                session=session, rollback_id=self.rollback_id, name=name, undo=_dumps(undo)
            )
            assert record.id is not None
        step = JournaledStep(id=record.id, name=name, undo=undo)
        try:
            yield step
        except BaseException as exc:
            self.end_step(step.id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        self.end_step(step.id, step.status, step.detail, step.undo)

    def record(self, name: str, status: str, detail: str) -> None:
        """A step that changes nothing (a check, a planned step), recorded as it ended."""
        with session_scope(self.database_url) as session:
            crud.add_rollback_step(
                session=session,
                rollback_id=self.rollback_id,
                name=name,
                status=status,
                detail=detail,
            )

    def end_step(
        self,
        step_id: int,
        status: str,
        detail: str | None = None,
        undo: dict[str, Any] | None = None,
    ) -> None:
        with session_scope(self.database_url) as session:
            crud.finish_rollback_step(
                session=session, step_id=step_id, status=status, detail=detail, undo=_dumps(undo)
            )

    def read_step(self, step_id: int) -> RollbackStep | None:
        with session_scope(self.database_url) as session:
            return session.get(RollbackStep, step_id)

    def steps(self) -> list[RollbackStep]:
        with session_scope(self.database_url) as session:
            return list(crud.list_rollback_steps(session=session, rollback_id=self.rollback_id))

    def update(self, **fields: Any) -> None:
        with session_scope(self.database_url) as session:
            record = session.get(Rollback, self.rollback_id)
            assert record is not None
            for name, value in fields.items():
                setattr(record, name, value)
            session.add(record)

    def claim(self, expected: RollbackStatus, new: RollbackStatus) -> bool:
        with session_scope(self.database_url) as session:
            return crud.claim_rollback(
                session=session, rollback_id=self.rollback_id, expected=expected, new=new
            )

    def finish(
        self,
        status: RollbackStatus,
        error: str | None = None,
        verification: str | None = None,
        verification_detail: str | None = None,
    ) -> RollbackReport:
        with session_scope(self.database_url) as session:
            crud.finish_rollback(
                session=session,
                rollback_id=self.rollback_id,
                status=status,
                error=error,
                verification=verification,
                verification_detail=verification_detail,
            )
            record = session.get(Rollback, self.rollback_id)
            assert record is not None
            steps = crud.list_rollback_steps(session=session, rollback_id=self.rollback_id)
            return RollbackReport.from_record(record, steps)

    def outcome(self) -> RollbackReport:
        """The rollback as recorded so far, without its steps."""
        with session_scope(self.database_url) as session:
            record = session.get(Rollback, self.rollback_id)
            assert record is not None
            return RollbackReport.from_record(record, [])


def orphaned_journals(database_url: str, service: str) -> list[RollbackJournal]:
    """The rollbacks of `service` whose process died on this host while they ran."""
    with session_scope(database_url) as session:
        orphans = crud.orphaned_rollbacks(session=session, service=service)
        return [RollbackJournal(database_url, r.id) for r in orphans if r.id is not None]
