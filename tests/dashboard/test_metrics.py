"""The dashboard's metrics from plain records: success rate, detection time, time to culprit,
MTTR (to green or a verified rollback) and rollback counts, per service and for the fleet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from build_monitor.dashboard.metrics import (
    BuildRecord,
    CulpritRecord,
    HistoryRecords,
    RollbackRecord,
    compute_metrics,
    metrics_document,
    red_episodes,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(minutes_ago: float) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def build(
    service: str,
    commit: str,
    passed: bool,
    finished: float,
    took: float = 2,
    pushed: float | None = None,
) -> BuildRecord:
    return BuildRecord(
        service=service,
        commit=commit,
        passed=passed,
        started_at=at(finished + took),
        finished_at=at(finished),
        pushed_at=at(pushed) if pushed is not None else None,
    )


def rollback(service: str, status: str, finished: float, verified: bool = True) -> RollbackRecord:
    return RollbackRecord(
        service=service,
        status=status,
        verified=verified,
        started_at=at(finished + 1),
        finished_at=at(finished),
    )


def test_a_red_episode_ends_at_the_next_green_build() -> None:
    records = HistoryRecords(
        builds=[
            build("a", "c1", True, 100),
            build("a", "c2", False, 90, pushed=95),
            build("a", "c3", False, 80),
            build("a", "c4", True, 60),
        ],
        culprits=[CulpritRecord("a", found_at=at(85))],
        rollbacks=[],
    )
    [episode] = red_episodes(records, "a")
    assert episode.detection_s == 5 * 60  # pushed 95 min ago, red 90 min ago
    assert episode.culprit_s == 5 * 60
    assert episode.mttr_s == 30 * 60


def test_a_verified_rollback_ends_the_episode_before_green() -> None:
    records = HistoryRecords(
        builds=[build("a", "c1", False, 50, took=3), build("a", "c2", True, 10)],
        culprits=[],
        rollbacks=[
            rollback("a", "failed", 45),
            rollback("a", "succeeded", 40, verified=False),
            rollback("a", "succeeded", 30),
        ],
    )
    [episode] = red_episodes(records, "a")
    assert episode.detection_s == 3 * 60  # no push recorded: from the build's start
    assert episode.mttr_s == 20 * 60  # the verified rollback, not the unverified one
    assert episode.culprit_s is None


def test_a_service_still_red_has_no_mttr_yet() -> None:
    records = HistoryRecords(builds=[build("a", "c1", False, 5)], culprits=[], rollbacks=[])
    [episode] = red_episodes(records, "a")
    assert episode.recovered_at is None
    metrics = compute_metrics(records, services=["a"], now=NOW, days=7)
    assert metrics.mttr_s is None and metrics.red_episodes == 1


def test_windows_count_only_their_days() -> None:
    day = 24 * 60
    records = HistoryRecords(
        builds=[
            build("a", "old-red", False, 20 * day),
            build("a", "old-green", True, 20 * day - 60),
            build("a", "new-red", False, 2 * day),
            build("a", "new-green", True, 2 * day - 10),
            build("a", "ancient", True, 40 * day),
        ],
        culprits=[],
        rollbacks=[rollback("a", "succeeded", 3 * day), rollback("a", "refused", 10 * day)],
    )
    week = compute_metrics(records, services=["a"], now=NOW, days=7)
    month = compute_metrics(records, services=["a"], now=NOW, days=30)
    assert (week.builds, week.success_rate, week.red_episodes) == (2, 0.5, 1)
    assert week.mttr_s == 10 * 60
    assert (week.rollbacks_done, week.rollbacks_refused) == (1, 0)
    assert (month.builds, month.red_episodes, month.mttr_s) == (4, 2, 35 * 60)
    assert (month.rollbacks_done, month.rollbacks_refused) == (1, 1)


def test_the_fleet_averages_over_every_service() -> None:
    records = HistoryRecords(
        builds=[
            build("a", "a1", False, 100),
            build("a", "a2", True, 90),
            build("b", "b1", True, 100),
            build("b", "b2", False, 50),
            build("b", "b3", True, 20),
        ],
        culprits=[],
        rollbacks=[],
    )
    document = metrics_document(records, services=["a", "b"], now=NOW)
    assert document["services"]["a"]["7d"]["mttr_s"] == 600
    assert document["services"]["b"]["30d"]["mttr_s"] == 1800
    assert document["fleet"]["7d"]["mttr_s"] == 1200
    assert document["fleet"]["7d"]["success_rate"] == 0.6
    assert document["fleet"]["30d"]["builds"] == 5


def test_no_builds_means_no_rate_rather_than_zero() -> None:
    document = metrics_document(
        HistoryRecords(builds=[], culprits=[], rollbacks=[]), services=["a"], now=NOW
    )
    assert document["services"]["a"]["7d"]["success_rate"] is None
    assert document["fleet"]["30d"]["builds"] == 0
