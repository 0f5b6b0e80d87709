"""The dashboard's reads from a real history database (SQLite): the records behind the metrics,
the push time from webhook deliveries, and what the service status and build history show."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from build_monitor.history import bisections, crud, metrics
from build_monitor.history.db import session_scope
from build_monitor.history.models import (
    BisectionStatus,
    BuildCreate,
    BuildStage,
    BuildStatus,
    Rollback,
    RollbackStatus,
    ServiceState,
    WebhookDelivery,
)
from build_monitor.webhooks.events import PUSH_EVENT


def record(url: str, commit: str, status: BuildStatus, *, trigger: str = "monitor") -> None:
    with session_scope(url) as session:
        crud.upsert_service(session=session, name="svc", repo="-", branch="main")
        build = crud.start_build(
            session=session,
            build_in=BuildCreate(
                service="svc",
                commit=commit,
                author="Ann",
                subject=f"change {commit}",
                trigger=trigger,
            ),
        )
        assert build.id is not None
        failed = status is BuildStatus.failed
        crud.finish_build(
            session=session,
            build_id=build.id,
            status=status,
            stage=BuildStage.test if failed else None,
            signature="test: tests::predict" if failed else None,
            log_excerpt=None,
            image=f"build-monitor/svc:{commit[:7]}",
            attempts=1,
        )
        if trigger == "bisect":
            return  # a probe never changes the service's state
        crud.set_service_state(
            session=session,
            name="svc",
            state=ServiceState.failing if failed else ServiceState.healthy,
            last_build_id=build.id,
        )


def test_records_leave_out_probes_and_take_the_push_time_from_the_webhook(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    pushed_at = datetime.now(UTC) - timedelta(minutes=3)
    with session_scope(url) as session:
        session.add(
            WebhookDelivery(
                forge="github",
                delivery_id="d-1",
                service="svc",
                event=PUSH_EVENT,
                payload=json.dumps([{"payload": {"service": "svc", "after": "b" * 40}}]),
                received_at=pushed_at,
            )
        )
    record(url, "a" * 40, BuildStatus.passed)
    record(url, "b" * 40, BuildStatus.failed)
    record(url, "9" * 40, BuildStatus.passed, trigger="bisect")  # a probe of an old commit
    with session_scope(url) as session:
        found = metrics.history_records(session=session, since=pushed_at - timedelta(days=1))
    assert [(b.commit[0], b.passed) for b in found.builds] == [("a", True), ("b", False)]
    assert found.builds[1].pushed_at == pushed_at
    assert found.builds[0].pushed_at is None


def test_dashboard_metrics_count_recovery_by_a_verified_rollback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    record(url, "a" * 40, BuildStatus.passed)
    record(url, "b" * 40, BuildStatus.failed)
    with session_scope(url) as session:
        bisection = bisections.start_bisection(
            session=session,
            service="svc",
            good="a" * 40,
            bad="b" * 40,
            trigger="monitor",
            flow_run_id=None,
        )
        assert bisection.id is not None
        bisections.finish_bisection(
            session=session,
            bisection_id=bisection.id,
            result=None,
            status=BisectionStatus.confirmed,
            signature="test: tests::predict",
        )
        for status, verification in (
            (RollbackStatus.refused, None),
            (RollbackStatus.succeeded, "passed"),
        ):
            rollback = crud.start_rollback(
                session=session,
                rollback=Rollback(service="svc", strategy="redeploy", to_commit="a" * 40),
            )
            assert rollback.id is not None
            crud.finish_rollback(
                session=session, rollback_id=rollback.id, status=status, verification=verification
            )
        document = metrics.dashboard_metrics(
            session=session, services=["svc"], now=datetime.now(UTC)
        )
    week = document["services"]["svc"]["7d"]
    assert (week["builds"], week["success_rate"], week["red_episodes"]) == (2, 0.5, 1)
    assert (week["rollbacks_done"], week["rollbacks_refused"]) == (1, 1)
    assert week["culprit_s"] is not None and week["culprit_s"] >= 0
    assert week["mttr_s"] is not None and week["mttr_s"] >= week["culprit_s"]
    assert document["fleet"]["30d"] == document["services"]["svc"]["30d"]
    with session_scope(url) as session:
        shown = metrics.service_status(session=session, service="svc", branch="main")
    assert shown.live == f"build-monitor/svc:{'a' * 7}, health check passed"


def test_service_status_and_history_show_the_service_timeline(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    record(url, "a" * 40, BuildStatus.passed)
    record(url, "b" * 40, BuildStatus.failed)
    record(url, "c" * 40, BuildStatus.passed, trigger="bisect")
    with session_scope(url) as session:
        bisections.start_bisection(
            session=session,
            service="svc",
            good="a" * 40,
            bad="b" * 40,
            trigger="monitor",
            flow_run_id="run-7",
        )
        status = metrics.service_status(session=session, service="svc", branch="main")
        history = metrics.build_history(session=session, service="svc")
        row = metrics.fleet_row(session=session, service="svc")
    assert status.state == "failing"
    assert status.last_good is not None and status.last_good.sha == "a" * 40
    assert status.last_bad is not None and status.last_bad.detail == "test: tests::predict"
    assert [(r.kind, r.flow_run_id) for r in status.running] == [("bisection", "run-7")]
    assert status.live is None
    assert [(r.sha[0], r.status) for r in history] == [("b", "failed"), ("a", "passed")]
    assert row.last_change is not None and row.last_change.sha == "b" * 40
