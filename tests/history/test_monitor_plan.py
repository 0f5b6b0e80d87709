"""What the monitor builds next, and when a new failure starts a bisection."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from build_monitor.history.models import ServiceState
from build_monitor.history.monitor_plan import pending_commits, starts_bisection, window_size


@dataclass(frozen=True)
class Commit:
    sha: str


WINDOW = [Commit(f"c{n}") for n in range(6)]


@pytest.mark.parametrize(
    ("built", "each", "expected"),
    [
        (set(), False, ["c5"]),
        ({"c2"}, False, ["c5"]),
        ({"c2"}, True, ["c3", "c4", "c5"]),
        ({"c5"}, True, []),
        # An older commit built again later does not hide the newer ones.
        ({"c1", "c3"}, True, ["c4", "c5"]),
    ],
)
def test_the_commits_after_the_newest_built_one(
    built: set[str], each: bool, expected: list[str]
) -> None:
    pending = pending_commits(WINDOW, built, build_each_commit=each, max_commits=10)
    assert [c.sha for c in pending] == expected


def test_never_more_than_max_commits_the_newest_kept() -> None:
    pending = pending_commits(WINDOW, set(), build_each_commit=True, max_commits=2)
    assert [c.sha for c in pending] == ["c4", "c5"]
    assert window_size(5) == 200 and window_size(500) == 500


def test_only_a_new_failure_starts_a_bisection() -> None:
    assert starts_bisection("failed", ServiceState.healthy, auto=True)
    assert starts_bisection("failed", ServiceState.unknown, auto=True)
    assert not starts_bisection("failed", ServiceState.failing, auto=True)
    assert not starts_bisection("failed", ServiceState.healthy, auto=False)
    assert not starts_bisection("passed", ServiceState.healthy, auto=True)
    assert not starts_bisection(None, ServiceState.healthy, auto=True)
