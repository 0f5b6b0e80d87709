"""What the dashboard reads from the history database, as the plain records the pure
`build_monitor.dashboard` modules compute metrics and artifact content from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from build_monitor.dashboard.metrics import (
    BuildRecord,
    CulpritRecord,
    HistoryRecords,
    RollbackRecord,
    metrics_document,
)
from build_monitor.dashboard.render import (
    BUILD_HISTORY_LENGTH,
    ROLLED_BACK,
    BuildRow,
    CommitRef,
    FleetRow,
    RunningRun,
    ServiceStatus,
)
from build_monitor.history.models import (
    Bisection,
    BisectionStatus,
    Build,
    BuildStatus,
    Rollback,
    RollbackStatus,
    ServiceRecord,
    ServiceState,
    WebhookDelivery,
)
from build_monitor.history.reverts import PROBE_TRIGGERS as PROBE_TRIGGERS
from build_monitor.history.reverts import on_branch_timeline
from build_monitor.webhooks.events import PUSH_EVENT

FINAL_STATUSES = (BuildStatus.passed, BuildStatus.failed)
LONGEST_WINDOW = timedelta(days=30)


def history_records(*, session: Session, since: datetime) -> HistoryRecords:
    """Builds, confirmed culprits and rollbacks since `since` (allow a margin: a red episode
    that began before the window may end inside it)."""
    builds = session.exec(
        select(Build)
        .where(col(Build.status).in_(FINAL_STATUSES), on_branch_timeline())
        .where(col(Build.finished_at) >= since)
        .order_by(col(Build.finished_at), col(Build.id))
    ).all()
    pushes = _push_times(session=session, since=since)
    culprits = session.exec(
        select(Bisection)
        .where(Bisection.status == BisectionStatus.confirmed)
        .where(col(Bisection.finished_at) >= since)
    ).all()
    rollbacks = session.exec(
        select(Rollback).where(col(Rollback.started_at) >= since, Rollback.dry_run == False)  # noqa: E712
    ).all()
    return HistoryRecords(
        builds=[
            BuildRecord(
                service=b.service,
                commit=b.commit,
                passed=b.status is BuildStatus.passed,
                started_at=b.started_at,
                finished_at=b.finished_at,
                pushed_at=pushes.get((b.service, b.commit)),
            )
            for b in builds
            if b.finished_at is not None
        ],
        culprits=[
            CulpritRecord(service=c.service, found_at=c.finished_at)
            for c in culprits
            if c.finished_at is not None
        ],
        rollbacks=[
            RollbackRecord(
                service=r.service,
                status=r.status.value,
                verified=r.verification == "passed",
                started_at=r.started_at,
                finished_at=r.finished_at,
            )
            for r in rollbacks
        ],
    )


def _push_times(*, session: Session, since: datetime) -> dict[tuple[str, str], datetime]:
    """When each pushed commit's webhook delivery arrived, by (service, commit)."""
    deliveries = session.exec(
        select(WebhookDelivery)
        .where(col(WebhookDelivery.received_at) >= since, WebhookDelivery.event == PUSH_EVENT)
        .order_by(col(WebhookDelivery.received_at))
    ).all()
    pushed: dict[tuple[str, str], datetime] = {}
    for delivery in deliveries:
        try:
            events = json.loads(delivery.payload)
            pushes = [(e["payload"]["service"], e["payload"]["after"]) for e in events]
        except (ValueError, KeyError, TypeError):
            continue  # not a delivery this version wrote
        for service, commit in pushes:
            pushed.setdefault((str(service), str(commit)), delivery.received_at)
    return pushed


def _timeline_builds(
    *, session: Session, service: str, status: BuildStatus | None = None
) -> list[Build]:
    statement = select(Build).where(Build.service == service, on_branch_timeline())
    if status is not None:
        statement = statement.where(Build.status == status)
    return list(
        session.exec(
            statement.order_by(col(Build.started_at).desc(), col(Build.id).desc()).limit(
                BUILD_HISTORY_LENGTH
            )
        ).all()
    )


def build_history(*, session: Session, service: str) -> list[BuildRow]:
    """The service's last builds, newest first (bisection and rollback probes left out, but
    not the build of a revert a rollback pushed onto the branch)."""
    return [
        BuildRow(
            sha=b.commit,
            author=b.author,
            subject=b.subject,
            status=b.status.value,
            stage=b.stage.value if b.stage else None,
            signature=b.signature,
            duration_s=b.duration_s,
        )
        for b in _timeline_builds(session=session, service=service)
    ]


def _commit_ref(build: Build | None) -> CommitRef | None:
    if build is None:
        return None
    return CommitRef(
        sha=build.commit,
        author=build.author,
        subject=build.subject,
        at=build.finished_at or build.started_at,
        detail=build.signature if build.status is BuildStatus.failed else None,
    )


def _latest(builds: Sequence[Build]) -> Build | None:
    return builds[0] if builds else None


def service_status(*, session: Session, service: str, branch: str) -> ServiceStatus:
    record = session.get(ServiceRecord, service)
    last_good = _latest(
        _timeline_builds(session=session, service=service, status=BuildStatus.passed)
    )
    last_bad = _latest(
        _timeline_builds(session=session, service=service, status=BuildStatus.failed)
    )
    last = _latest(_timeline_builds(session=session, service=service))
    return ServiceStatus(
        name=service,
        state=_shown_state(session=session, service=service, record=record, last_bad=last_bad),
        branch=branch,
        last_good=_commit_ref(last_good),
        last_bad=_commit_ref(last_bad),
        live=_live_container(session=session, service=service),
        running=_running(session=session, service=service),
        last_build=_commit_ref(last),
        last_build_status=last.status.value if last else None,
    )


def _shown_state(
    *, session: Session, service: str, record: ServiceRecord | None, last_bad: Build | None
) -> str:
    """The service's state; `rolled-back` for a failing branch whose live container a verified
    redeploy put back on a good build after the branch went red."""
    state = record.state if record else ServiceState.unknown
    if state is not ServiceState.failing or last_bad is None:
        return state.value
    red_at = last_bad.finished_at or last_bad.started_at
    redeployed = session.exec(
        select(Rollback.id)
        .where(Rollback.service == service, Rollback.status == RollbackStatus.succeeded)
        .where(col(Rollback.strategy).in_(("redeploy", "both")), Rollback.verification == "passed")
        .where(col(Rollback.finished_at) >= red_at)
        .limit(1)
    ).first()
    return ROLLED_BACK if redeployed is not None else state.value


def _live_container(*, session: Session, service: str) -> str | None:
    """The image the last successful redeploy made live, and its verification."""
    rollback = session.exec(
        select(Rollback)
        .where(Rollback.service == service, Rollback.status == RollbackStatus.succeeded)
        .where(col(Rollback.strategy).in_(("redeploy", "both")))
        .order_by(col(Rollback.id).desc())
        .limit(1)
    ).first()
    if rollback is None or rollback.to_commit is None:
        return None
    build = session.exec(
        select(Build)
        .where(Build.service == service, Build.commit == rollback.to_commit)
        .where(Build.status == BuildStatus.passed, col(Build.image).is_not(None))
        .order_by(col(Build.id).desc())
        .limit(1)
    ).first()
    image = build.image if build and build.image else f"commit {rollback.to_commit[:7]}"
    return f"{image}, health check {rollback.verification or 'not run'}"


def _running(*, session: Session, service: str) -> list[RunningRun]:
    bisections = session.exec(
        select(Bisection).where(
            Bisection.service == service, Bisection.status == BisectionStatus.running
        )
    ).all()
    rollbacks = session.exec(
        select(Rollback).where(
            Rollback.service == service, Rollback.status == RollbackStatus.running
        )
    ).all()
    return [
        RunningRun("bisection", b.flow_run_id, f"{b.good[:7]}..{b.bad[:7]}") for b in bisections
    ] + [
        RunningRun("rollback", r.flow_run_id, f"-> {(r.to_commit or 'last good')[:7]}")
        for r in rollbacks
    ]


def fleet_row(*, session: Session, service: str) -> FleetRow:
    record = session.get(ServiceRecord, service)
    last = _latest(_timeline_builds(session=session, service=service))
    last_bad = _latest(
        _timeline_builds(session=session, service=service, status=BuildStatus.failed)
    )
    return FleetRow(
        name=service,
        state=_shown_state(session=session, service=service, record=record, last_bad=last_bad),
        last_change=_commit_ref(last),
        last_status=last.status.value if last else None,
        latest_flow_run_id=last.flow_run_id if last else None,
    )


def dashboard_metrics(
    *, session: Session, services: Sequence[str], now: datetime
) -> dict[str, Any]:
    """The `metrics` document (dashboard.metrics.metrics_document) from the database; red
    episodes that began up to 30 days before the longest window still count where they end."""
    records = history_records(session=session, since=now - 2 * LONGEST_WINDOW)
    return metrics_document(records, services=services, now=now)
