"""A verified revert pushed onto a service's branch: its passing build (trigger
`rollback-revert`) is then the branch's newest build, so the service is green without waiting
for another push (the monitor never builds a commit twice)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from build_monitor.history import crud
from build_monitor.history.models import (
    Build,
    BuildStatus,
    Rollback,
    RollbackStatus,
    ServiceRecord,
    ServiceState,
)

REVERT_TRIGGER = "rollback-revert"
# Builds of old commits made by a bisection or a rollback: not the service's own timeline.
PROBE_TRIGGERS = ("bisect", "rollback", REVERT_TRIGGER)


def on_branch_timeline() -> Any:
    """A `where` clause on Build: builds of the service's branch, i.e. not probes, except the
    passing build of a revert that a succeeded rollback pushed onto the branch."""
    pushed_onto_branch = (
        select(Rollback.id)
        .join(ServiceRecord, col(ServiceRecord.name) == col(Rollback.service))
        .where(
            col(Rollback.service) == col(Build.service),
            col(Rollback.revert_commit) == col(Build.commit),
            Rollback.status == RollbackStatus.succeeded,
            col(Rollback.pushed_ref) == col(ServiceRecord.branch),
        )
        .exists()
    )
    return or_(
        col(Build.trigger).not_in(PROBE_TRIGGERS),
        and_(
            col(Build.trigger) == REVERT_TRIGGER,
            col(Build.status) == BuildStatus.passed,
            pushed_onto_branch,
        ),
    )


def record_pushed_revert(*, session: Session, rollback_id: int) -> Build | None:
    """After rollback `rollback_id` succeeded: when it pushed its tested revert onto the
    service's branch, that revert's passing build becomes the service's last build and the
    service is healthy (unless a newer build already set its state). The build, or None."""
    rollback = session.get(Rollback, rollback_id)
    if rollback is None or rollback.status is not RollbackStatus.succeeded:
        return None
    service = session.get(ServiceRecord, rollback.service)
    if service is None or rollback.revert_commit is None or rollback.pushed_ref != service.branch:
        return None
    build = session.exec(
        select(Build)
        .where(Build.service == rollback.service, Build.commit == rollback.revert_commit)
        .where(Build.trigger == REVERT_TRIGGER, Build.status == BuildStatus.passed)
        .order_by(col(Build.id).desc())
        .limit(1)
    ).first()
    if build is None or build.id is None:
        return None
    if service.last_build_id is not None and service.last_build_id > build.id:
        return build  # a later build of the branch already decided the state
    crud.set_service_state(
        session=session, name=service.name, state=ServiceState.healthy, last_build_id=build.id
    )
    return build
