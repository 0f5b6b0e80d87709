"""Build success rate, detection time, time to culprit, MTTR and rollback counts per service and
for the fleet, over a time window, from plain records of the history database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

WINDOWS_DAYS = (7, 30)
FLEET = "fleet"


@dataclass(frozen=True)
class BuildRecord:
    """A finished build of a commit on the service's branch (bisection and rollback probes are
    left out: they build old commits and say nothing about the service's state)."""

    service: str
    commit: str
    passed: bool
    started_at: datetime
    finished_at: datetime
    # When the push reached build-monitor (its webhook delivery); None: when the build started.
    pushed_at: datetime | None = None


@dataclass(frozen=True)
class CulpritRecord:
    """A bisection that confirmed its culprit."""

    service: str
    found_at: datetime


@dataclass(frozen=True)
class RollbackRecord:
    service: str
    status: str  # a RollbackStatus value
    verified: bool
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class RedEpisode:
    """From the build that turned a service red to the first passing build or verified
    rollback after it (None while still red)."""

    service: str
    pushed_at: datetime
    red_at: datetime
    culprit_at: datetime | None
    recovered_at: datetime | None

    @property
    def detection_s(self) -> float:
        return max(0.0, (self.red_at - self.pushed_at).total_seconds())

    @property
    def culprit_s(self) -> float | None:
        return None if self.culprit_at is None else (self.culprit_at - self.red_at).total_seconds()

    @property
    def mttr_s(self) -> float | None:
        if self.recovered_at is None:
            return None
        return (self.recovered_at - self.red_at).total_seconds()


@dataclass(frozen=True)
class Metrics:
    window_days: int
    builds: int
    success_rate: float | None
    red_episodes: int
    detection_s: float | None  # mean, push -> red
    culprit_s: float | None  # mean, red -> confirmed culprit
    mttr_s: float | None  # mean, red -> green or verified rollback
    rollbacks_done: int
    rollbacks_refused: int

    def to_json(self) -> dict[str, Any]:
        return {
            "window_days": self.window_days,
            "builds": self.builds,
            "success_rate": _rounded(self.success_rate, 4),
            "red_episodes": self.red_episodes,
            "detection_s": _rounded(self.detection_s, 1),
            "culprit_s": _rounded(self.culprit_s, 1),
            "mttr_s": _rounded(self.mttr_s, 1),
            "rollbacks_done": self.rollbacks_done,
            "rollbacks_refused": self.rollbacks_refused,
        }


@dataclass(frozen=True)
class HistoryRecords:
    builds: Sequence[BuildRecord]
    culprits: Sequence[CulpritRecord]
    rollbacks: Sequence[RollbackRecord]


ROLLBACK_DONE = "succeeded"
ROLLBACK_REFUSED = "refused"


def red_episodes(records: HistoryRecords, service: str) -> list[RedEpisode]:
    """Each time `service` turned red, in order."""
    builds = sorted(
        (b for b in records.builds if b.service == service), key=lambda b: b.finished_at
    )
    culprits = sorted(
        (c.found_at for c in records.culprits if c.service == service),
    )
    verified_rollbacks = sorted(
        r.finished_at
        for r in records.rollbacks
        if r.service == service and r.status == ROLLBACK_DONE and r.verified and r.finished_at
    )
    episodes: list[RedEpisode] = []
    red: BuildRecord | None = None
    for build in builds:
        if red is None and not build.passed:
            red = build
        elif red is not None and build.passed:
            episodes.append(_episode(red, build.finished_at, culprits, verified_rollbacks))
            red = None
    if red is not None:
        episodes.append(_episode(red, None, culprits, verified_rollbacks))
    return episodes


def _episode(
    red: BuildRecord,
    green_at: datetime | None,
    culprits: Sequence[datetime],
    verified_rollbacks: Sequence[datetime],
) -> RedEpisode:
    rolled_back_at = _first_at_or_after(verified_rollbacks, red.finished_at)
    recovered = [t for t in (green_at, rolled_back_at) if t is not None]
    return RedEpisode(
        service=red.service,
        pushed_at=red.pushed_at or red.started_at,
        red_at=red.finished_at,
        culprit_at=_first_at_or_after(culprits, red.finished_at),
        recovered_at=min(recovered) if recovered else None,
    )


def _first_at_or_after(times: Sequence[datetime], moment: datetime) -> datetime | None:
    return next((t for t in times if t >= moment), None)


def compute_metrics(
    records: HistoryRecords, *, services: Iterable[str] | None, now: datetime, days: int
) -> Metrics:
    """The figures over the `days` before `now`, for `services` (None: all of them)."""
    since = now - timedelta(days=days)
    names = (
        set(services)
        if services is not None
        else {b.service for b in records.builds} | {r.service for r in records.rollbacks}
    )
    builds = [b for b in records.builds if b.service in names and since <= b.finished_at <= now]
    episodes = [
        e for name in sorted(names) for e in red_episodes(records, name) if since <= e.red_at <= now
    ]
    rollbacks = [
        r for r in records.rollbacks if r.service in names and since <= r.started_at <= now
    ]
    passed = sum(1 for b in builds if b.passed)
    return Metrics(
        window_days=days,
        builds=len(builds),
        success_rate=passed / len(builds) if builds else None,
        red_episodes=len(episodes),
        detection_s=_mean(e.detection_s for e in episodes),
        culprit_s=_mean(e.culprit_s for e in episodes),
        mttr_s=_mean(e.mttr_s for e in episodes),
        rollbacks_done=sum(1 for r in rollbacks if r.status == ROLLBACK_DONE),
        rollbacks_refused=sum(1 for r in rollbacks if r.status == ROLLBACK_REFUSED),
    )


def metrics_document(
    records: HistoryRecords, *, services: Sequence[str], now: datetime
) -> dict[str, Any]:
    """`{"fleet": {"7d": {...}, "30d": {...}}, "services": {name: {"7d": ..., "30d": ...}}}`:
    the `metrics` key of `status --json`, `GET /api/dashboard` and the fleet artifact."""

    def windows(names: Sequence[str]) -> dict[str, Any]:
        return {
            f"{days}d": compute_metrics(records, services=names, now=now, days=days).to_json()
            for days in WINDOWS_DAYS
        }

    return {
        FLEET: windows(services),
        "services": {name: windows([name]) for name in services},
    }


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
