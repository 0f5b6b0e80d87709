"""What a succeeded rollback does to the service's timeline (SQLite): a revert pushed onto the
branch is its newest build and makes it healthy; one pushed elsewhere, or a revert build that
failed, stays a probe; a verified redeploy shows the failing service as rolled back."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_monitor.history import crud, metrics, reverts
from build_monitor.history.db import session_scope
from build_monitor.history.models import (
    Build,
    BuildStatus,
    Rollback,
    RollbackStatus,
    ServiceRecord,
    ServiceState,
)
from tests.dashboard.test_history_metrics import record

REVERT = "e" * 40


def revert_build(url: str, passed: bool = True) -> int:
    """The rollback's build of its revert commit (it never sets the service's state)."""
    with session_scope(url) as session:
        build = Build(
            service="svc",
            commit=REVERT,
            author="build-monitor",
            subject="Revert the culprit",
            trigger=reverts.REVERT_TRIGGER,
            status=BuildStatus.passed if passed else BuildStatus.failed,
        )
        session.add(build)
        session.flush()
        assert build.id is not None
        return build.id


def rolled_back(
    url: str,
    *,
    strategy: str = "revert",
    pushed_ref: str | None = "main",
    status: RollbackStatus = RollbackStatus.succeeded,
) -> int:
    with session_scope(url) as session:
        rollback = crud.start_rollback(
            session=session,
            rollback=Rollback(service="svc", strategy=strategy, to_commit="a" * 40),
        )
        assert rollback.id is not None
        if strategy != "redeploy":
            rollback.revert_commit, rollback.pushed_ref = REVERT, pushed_ref
            session.add(rollback)
        crud.finish_rollback(
            session=session,
            rollback_id=rollback.id,
            status=status,
            verification="passed" if status is RollbackStatus.succeeded else "failed",
        )
        return rollback.id


def red(url: str) -> None:
    record(url, "a" * 40, BuildStatus.passed)
    record(url, "b" * 40, BuildStatus.failed)


def apply(url: str, rollback_id: int) -> Build | None:
    with session_scope(url) as session:
        return reverts.record_pushed_revert(session=session, rollback_id=rollback_id)


def state(url: str) -> tuple[ServiceState, int | None]:
    with session_scope(url) as session:
        service = session.get(ServiceRecord, "svc")
        assert service is not None
        return service.state, service.last_build_id


def timeline(url: str) -> list[tuple[str, str]]:
    with session_scope(url) as session:
        return [(r.sha[0], r.status) for r in metrics.build_history(session=session, service="svc")]


def test_a_revert_pushed_onto_the_branch_is_its_newest_build_and_makes_it_healthy(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    red(url)
    build_id = revert_build(url)
    assert timeline(url) == [("b", "failed"), ("a", "passed")]  # a probe until pushed
    rollback_id = rolled_back(url)
    assert timeline(url) == [("e", "passed"), ("b", "failed"), ("a", "passed")]
    applied = apply(url, rollback_id)
    assert applied is not None and applied.id == build_id
    assert state(url) == (ServiceState.healthy, build_id)
    with session_scope(url) as session:
        status = metrics.service_status(session=session, service="svc", branch="main")
        row = metrics.fleet_row(session=session, service="svc")
    assert status.state == "healthy" and status.last_good and status.last_good.sha == REVERT
    assert row.state == "healthy" and row.last_change and row.last_change.sha == REVERT


@pytest.mark.parametrize(
    ("pushed_ref", "status", "revert_passed"),
    [
        ("build-monitor/revert-bbbbbbbbbbbb", RollbackStatus.succeeded, True),  # awaits a merge
        (None, RollbackStatus.failed, True),  # not pushed: the rollback failed later
        ("main", RollbackStatus.succeeded, False),  # (cannot happen: a failed revert is kept)
    ],
)
def test_a_revert_not_on_the_branch_leaves_the_service_failing(
    tmp_path: Path, pushed_ref: str | None, status: RollbackStatus, revert_passed: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    red(url)
    before = state(url)
    revert_build(url, passed=revert_passed)
    rollback_id = rolled_back(url, pushed_ref=pushed_ref, status=status)
    assert apply(url, rollback_id) is None
    assert state(url) == before and before[0] is ServiceState.failing
    assert timeline(url) == [("b", "failed"), ("a", "passed")]


def test_a_newer_build_of_the_branch_keeps_its_state(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    red(url)
    revert_build(url)
    rollback_id = rolled_back(url)
    record(url, "c" * 40, BuildStatus.failed)  # a push built after the revert
    newer = state(url)
    assert apply(url, rollback_id) is not None
    assert state(url) == newer and newer[0] is ServiceState.failing


def test_a_verified_redeploy_shows_a_failing_branch_as_rolled_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    red(url)
    with session_scope(url) as session:
        assert metrics.fleet_row(session=session, service="svc").state == "failing"
    rollback_id = rolled_back(url, strategy="redeploy")
    assert apply(url, rollback_id) is None  # nothing was pushed: the branch still fails
    assert state(url)[0] is ServiceState.failing
    with session_scope(url) as session:
        status = metrics.service_status(session=session, service="svc", branch="main")
        row = metrics.fleet_row(session=session, service="svc")
    assert status.state == row.state == "rolled-back"
    # A new failure after the redeploy is red again.
    record(url, "c" * 40, BuildStatus.failed)
    with session_scope(url) as session:
        assert metrics.fleet_row(session=session, service="svc").state == "failing"
