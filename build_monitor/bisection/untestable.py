"""Commits that cannot test the target: windows of them as facts, and errors that belong to a
commit rather than to the machine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from build_monitor.builders.signatures import normalize_signature

# An error this many times at one commit, while other commits build, belongs to the commit.
COMMIT_SPECIFIC_REPEATS = 2


def commit_specific_error(errors_here: Sequence[str | None], others_built: bool) -> str | None:
    """The error that belongs to this commit, if any: one that reproduced (the same signature at
    least :data:`COMMIT_SPECIFIC_REPEATS` times here) while other commits of the same bisection
    built (``others_built``), e.g. a dependency source only this commit's ``Cargo.toml`` names.
    The commit is then untestable, not a machine fault to retry."""
    if not others_built:
        return None
    counts = Counter(normalize_signature(e) for e in errors_here if e)
    if not counts:
        return None
    signature, repeats = counts.most_common(1)[0]
    return signature if repeats >= COMMIT_SPECIFIC_REPEATS else None


def shared_reason(reasons: Sequence[str]) -> str:
    """One reason for a window: the most common of its commits' reasons, noting any others."""
    counts = Counter(reason for reason in reasons if reason)
    if not counts:
        return "unknown failure"
    ranked = [reason for reason, _ in counts.most_common()]
    if len(ranked) == 1:
        return ranked[0]
    return f"{ranked[0]}; also {', '.join(ranked[1:3])}" + ("..." if len(ranked) > 3 else "")


def windows(probed: Sequence[tuple[int, str | None]]) -> list[tuple[int, int, list[str]]]:
    """Maximal runs of untestable probed commits. ``probed`` pairs each probed position, in
    order, with its untestable reason, or ``None`` when it tested the target; the result holds
    (first position, last position, reasons of the run's probed commits)."""
    found: list[tuple[int, int, list[str]]] = []
    run: list[tuple[int, str]] = []
    for position, reason in [*sorted(probed), (-1, None)]:
        if reason is not None:
            run.append((position, reason))
            continue
        if run:
            found.append((run[0][0], run[-1][0], [r for _, r in run]))
            run = []
    return found
