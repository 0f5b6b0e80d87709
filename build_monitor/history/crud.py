"""Keyword-only CRUD functions over the history database; each takes the session."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from build_monitor.builders.processes import pid_alive
from build_monitor.history.models import (
    Build,
    BuildCreate,
    BuildStage,
    BuildStatus,
    Rollback,
    RollbackStatus,
    RollbackStep,
    ServiceRecord,
    ServiceState,
    utcnow,
)

FINAL_STATUSES = (BuildStatus.passed, BuildStatus.failed)


def upsert_service(*, session: Session, name: str, repo: str, branch: str) -> ServiceRecord:
    record = session.get(ServiceRecord, name)
    if record is None:
        record = ServiceRecord(name=name, repo=repo, branch=branch)
    else:
        record.repo, record.branch = repo, branch
    session.add(record)
    session.flush()
    return record


def get_service(*, session: Session, name: str) -> ServiceRecord | None:
    return session.get(ServiceRecord, name)


def set_service_state(
    *, session: Session, name: str, state: ServiceState, last_build_id: int | None
) -> None:
    record = session.get(ServiceRecord, name)
    if record is None:
        return
    record.state = state
    record.last_build_id = last_build_id if last_build_id is not None else record.last_build_id
    record.updated_at = utcnow()
    session.add(record)


def start_build(*, session: Session, build_in: BuildCreate) -> Build:
    build = Build.model_validate(
        build_in, update={"host": socket.gethostname(), "pid": os.getpid()}
    )
    session.add(build)
    session.flush()
    return build


def finish_build(
    *,
    session: Session,
    build_id: int,
    status: BuildStatus,
    stage: BuildStage | None,
    signature: str | None,
    log_excerpt: str | None,
    image: str | None,
    attempts: int,
    finished_at: datetime | None = None,
) -> Build:
    build = session.get(Build, build_id)
    if build is None:
        raise LookupError(f"build {build_id} does not exist")
    finished = finished_at or utcnow()
    build.status, build.stage, build.signature = status, stage, signature
    build.log_excerpt, build.image, build.attempts = log_excerpt, image, attempts
    build.finished_at = finished
    build.duration_s = round((finished - build.started_at).total_seconds(), 3)
    session.add(build)
    session.flush()
    return build


def list_builds(
    *, session: Session, service: str, limit: int = 20, offset: int = 0
) -> Sequence[Build]:
    statement = (
        select(Build)
        .where(Build.service == service)
        .order_by(col(Build.started_at).desc(), col(Build.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return session.exec(statement).all()


def latest_build(*, session: Session, service: str) -> Build | None:
    builds = list_builds(session=session, service=service, limit=1)
    return builds[0] if builds else None


def latest_final_build_for_commit(*, session: Session, service: str, commit: str) -> Build | None:
    statement = (
        select(Build)
        .where(Build.service == service, Build.commit == commit)
        .where(col(Build.status).in_(FINAL_STATUSES))
        .order_by(col(Build.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def built_commits(*, session: Session, service: str, commits: Sequence[str]) -> set[str]:
    """Commits among `commits` that already have a final (passed/failed) build."""
    found: set[str] = set()
    for chunk_start in range(0, len(commits), 500):
        chunk = list(commits[chunk_start : chunk_start + 500])
        statement = (
            select(Build.commit)
            .where(Build.service == service, col(Build.commit).in_(chunk))
            .where(col(Build.status).in_(FINAL_STATUSES))
        )
        found.update(session.exec(statement).all())
    return found


def mark_interrupted_builds(*, session: Session, stale_after: timedelta) -> int:
    """Builds left `running` by a process that died (same host, pid gone) or that ran far past
    any timeout become `interrupted`. Returns how many were marked."""
    host = socket.gethostname()
    now = utcnow()
    marked = 0
    for build in session.exec(select(Build).where(Build.status == BuildStatus.running)).all():
        owner_dead = build.host == host and build.pid is not None and not pid_alive(build.pid)
        too_old = now - build.started_at > stale_after
        if owner_dead or too_old:
            build.status = BuildStatus.interrupted
            build.finished_at = now
            build.duration_s = round((now - build.started_at).total_seconds(), 3)
            session.add(build)
            marked += 1
    return marked


# ---------------------------------------------------------------- rollbacks

# Rollbacks that changed, or tried to change, something: what the daily limit counts.
EXECUTED_ROLLBACK_STATUSES = (
    RollbackStatus.running,
    RollbackStatus.succeeded,
    RollbackStatus.failed,
    RollbackStatus.interrupted,
)


def start_rollback(*, session: Session, rollback: Rollback) -> Rollback:
    rollback.host, rollback.pid = socket.gethostname(), os.getpid()
    session.add(rollback)
    session.flush()
    return rollback


def finish_rollback(
    *,
    session: Session,
    rollback_id: int,
    status: RollbackStatus,
    error: str | None = None,
    verification: str | None = None,
    verification_detail: str | None = None,
    **fields: object,
) -> Rollback:
    """Set the final status (and any other Rollback column given in `fields`)."""
    rollback = session.get(Rollback, rollback_id)
    if rollback is None:
        raise LookupError(f"rollback {rollback_id} does not exist")
    finished = utcnow()
    rollback.status, rollback.error = status, error
    if verification is not None:
        rollback.verification, rollback.verification_detail = verification, verification_detail
    for name, value in fields.items():
        if name not in Rollback.model_fields:
            raise ValueError(f"Rollback has no column {name!r}")
        setattr(rollback, name, value)
    rollback.finished_at = finished
    rollback.duration_s = round((finished - rollback.started_at).total_seconds(), 3)
    session.add(rollback)
    session.flush()
    return rollback


def add_rollback_step(
    *,
    session: Session,
    rollback_id: int,
    name: str,
    status: str = "running",
    detail: str | None = None,
    undo: str | None = None,
) -> RollbackStep:
    position = len(list_rollback_steps(session=session, rollback_id=rollback_id))
    step = RollbackStep(
        rollback_id=rollback_id,
        position=position,
        name=name,
        status=status,
        detail=detail,
        undo=undo,
    )
    if status != "running":
        step.finished_at = utcnow()
    session.add(step)
    session.flush()
    return step


def finish_rollback_step(
    *,
    session: Session,
    step_id: int,
    status: str,
    detail: str | None = None,
    undo: str | None = None,
) -> RollbackStep:
    step = session.get(RollbackStep, step_id)
    if step is None:
        raise LookupError(f"rollback step {step_id} does not exist")
    step.status = status
    step.detail = detail if detail is not None else step.detail
    step.undo = undo if undo is not None else step.undo
    step.finished_at = utcnow()
    session.add(step)
    session.flush()
    return step


def list_rollback_steps(*, session: Session, rollback_id: int) -> Sequence[RollbackStep]:
    statement = (
        select(RollbackStep)
        .where(RollbackStep.rollback_id == rollback_id)
        .order_by(col(RollbackStep.position), col(RollbackStep.id))
    )
    return session.exec(statement).all()


def list_rollbacks(
    *, session: Session, service: str, limit: int = 20, offset: int = 0
) -> Sequence[Rollback]:
    statement = (
        select(Rollback)
        .where(Rollback.service == service)
        .order_by(col(Rollback.started_at).desc(), col(Rollback.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return session.exec(statement).all()


def count_automatic_rollbacks(*, session: Session, service: str, since: datetime) -> int:
    statement = select(Rollback.id).where(
        Rollback.service == service,
        col(Rollback.automatic).is_(True),
        col(Rollback.status).in_(EXECUTED_ROLLBACK_STATUSES),
        col(Rollback.started_at) >= since,
    )
    return len(session.exec(statement).all())


def automatic_rollback_for_culprit(
    *, session: Session, service: str, culprit: str
) -> Rollback | None:
    """The latest automatic rollback of this culprit that ran (an automatic rollback of the same
    culprit never runs twice)."""
    statement = (
        select(Rollback)
        .where(Rollback.service == service, Rollback.culprit == culprit)
        .where(col(Rollback.automatic).is_(True))
        .where(col(Rollback.status).in_((*EXECUTED_ROLLBACK_STATUSES, RollbackStatus.noop)))
        .order_by(col(Rollback.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def orphaned_rollbacks(*, session: Session, service: str) -> Sequence[Rollback]:
    """Rollbacks of `service` left `running` by a process on this host that is gone."""
    host = socket.gethostname()
    statement = select(Rollback).where(
        Rollback.service == service, Rollback.status == RollbackStatus.running
    )
    return [
        rollback
        for rollback in session.exec(statement).all()
        if rollback.host == host
        and rollback.pid is not None
        and rollback.pid != os.getpid()
        and not pid_alive(rollback.pid)
    ]


def claim_rollback(
    *, session: Session, rollback_id: int, expected: RollbackStatus, new: RollbackStatus
) -> bool:
    """Move a rollback from `expected` to `new` status; False if someone else got there first."""
    result = session.execute(
        update(Rollback)
        .where(col(Rollback.id) == rollback_id, col(Rollback.status) == expected)
        .values(status=new, pid=os.getpid(), host=socket.gethostname())
    )
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]
