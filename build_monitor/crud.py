"""Keyword-only CRUD functions over the history database; each takes the session."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from build_monitor.models import (
    Build,
    BuildCreate,
    BuildStage,
    BuildStatus,
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
) -> Build:
    build = session.get(Build, build_id)
    if build is None:
        raise LookupError(f"build {build_id} does not exist")
    finished = utcnow()
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


def last_passing_build(*, session: Session, service: str) -> Build | None:
    statement = (
        select(Build)
        .where(Build.service == service, Build.status == BuildStatus.passed)
        .order_by(col(Build.started_at).desc(), col(Build.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def mark_interrupted_builds(*, session: Session, stale_after: timedelta) -> int:
    """Builds left `running` by a process that died (same host, pid gone) or that ran far past
    any timeout become `interrupted`. Returns how many were marked."""
    host = socket.gethostname()
    now = utcnow()
    marked = 0
    for build in session.exec(select(Build).where(Build.status == BuildStatus.running)).all():
        owner_dead = build.host == host and build.pid is not None and not _pid_alive(build.pid)
        too_old = now - build.started_at > stale_after
        if owner_dead or too_old:
            build.status = BuildStatus.interrupted
            build.finished_at = now
            build.duration_s = round((now - build.started_at).total_seconds(), 3)
            session.add(build)
            marked += 1
    return marked


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
