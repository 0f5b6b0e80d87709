"""What the monitor decides from the history (no I/O): which of a branch's newest commits it
builds next, and whether a new failure starts a bisection."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, TypeVar

from build_monitor.history.models import ServiceState

# How far back the monitor looks for the newest commit already built.
MIN_WINDOW = 200


class _Commit(Protocol):
    @property
    def sha(self) -> str: ...


C = TypeVar("C", bound=_Commit)


def window_size(max_commits_per_run: int) -> int:
    return max(max_commits_per_run, MIN_WINDOW)


def pending_commits(
    window: Sequence[C], built: Collection[str], *, build_each_commit: bool, max_commits: int
) -> list[C]:
    """The commits of `window` (oldest first) after the newest already-built one; only the
    newest unless `build_each_commit`, and never more than `max_commits`."""
    pending: list[C] = []
    for info in reversed(window):
        if info.sha in built:
            break
        pending.append(info)
    pending.reverse()
    if not pending:
        return []
    if not build_each_commit:
        return pending[-1:]
    return pending[-max_commits:]


def starts_bisection(newest_status: str | None, previous: ServiceState, *, auto: bool) -> bool:
    """A bisection starts when the newest build failed on a service that was not failing."""
    return auto and newest_status == "failed" and previous != ServiceState.failing
