"""The dashboard's sections beyond services: running bisections and rollbacks, recent culprits
(`GET /api/dashboard`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session, col, select

from build_monitor.history.models import Bisection, BisectionStatus, Rollback, RollbackStatus

RECENT_CULPRITS = 10
# The shape build_monitor.api.context.DashboardSource expects (history never imports the API).
DashboardSource = Callable[[Session], list[dict[str, Any]]]


def running_bisections(session: Session) -> list[dict[str, Any]]:
    statement = select(Bisection).where(Bisection.status == BisectionStatus.running)
    return [
        {
            "bisection_id": b.id,
            "service": b.service,
            "good": b.good,
            "bad": b.bad,
            "started_at": b.started_at.isoformat(),
            "flow_run_id": b.flow_run_id,
        }
        for b in session.exec(statement.order_by(col(Bisection.id))).all()
    ]


def running_rollbacks(session: Session) -> list[dict[str, Any]]:
    statement = select(Rollback).where(Rollback.status == RollbackStatus.running)
    return [
        {
            "rollback_id": r.id,
            "service": r.service,
            "action": r.action,
            "strategy": r.strategy,
            "from": r.from_commit,
            "to": r.to_commit,
            "flow_run_id": r.flow_run_id,
        }
        for r in session.exec(statement.order_by(col(Rollback.id))).all()
    ]


def recent_culprits(session: Session) -> list[dict[str, Any]]:
    statement = (
        select(Bisection)
        .where(Bisection.status == BisectionStatus.confirmed)
        .order_by(col(Bisection.finished_at).desc(), col(Bisection.id).desc())
        .limit(RECENT_CULPRITS)
    )
    return [
        {
            "service": b.service,
            "culprit": b.culprit,
            "author": b.culprit_author,
            "subject": b.culprit_subject,
            "signature": b.signature,
            "confidence": b.confidence,
            "found_at": b.finished_at.isoformat() if b.finished_at else None,
            "bisection_id": b.id,
        }
        for b in session.exec(statement).all()
    ]


DASHBOARD_SOURCES: dict[str, DashboardSource] = {
    "running_bisections": running_bisections,
    "running_rollbacks": running_rollbacks,
    "recent_culprits": recent_culprits,
}
