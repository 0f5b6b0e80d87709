"""Choosing which commits to build next: split the probability mass, not the commit count."""

from __future__ import annotations

from collections.abc import Sequence

from build_monitor.bisection.posterior import Posterior


def split_value(at_or_before: float) -> float:
    """How evenly a probe divides the mass: 0.5 is a perfect halving, 0 tells nothing."""
    return min(at_or_before, 1.0 - at_or_before)


def choose_probes(
    posterior: Posterior,
    probeable: Sequence[bool],
    runs: Sequence[int],
    count: int,
    *,
    minimum_split: float,
) -> list[int]:
    """Up to ``count`` distinct positions whose "culprit at or before" masses sit closest to the
    quantiles ``1/(count+1), ..., count/(count+1)``, so ``count`` parallel probes cut the mass
    into ``count + 1`` parts.

    Ties prefer the commit built fewer times (a rerun is chosen only when it is the most
    informative probe), then the older commit. Probes whose split is below ``minimum_split``
    are useless and never chosen.
    """
    cumulative = posterior.at_or_before()
    useful = [
        position
        for position in range(1, posterior.candidates + 1)
        if probeable[position] and split_value(cumulative[position]) >= minimum_split
    ]
    chosen: list[int] = []
    for quantile in (i / (count + 1) for i in range(1, count + 1)):
        remaining = [position for position in useful if position not in chosen]
        if not remaining:
            break
        chosen.append(
            min(
                remaining,
                key=lambda position: (
                    abs(cumulative[position] - quantile),
                    runs[position],
                    position,
                ),
            )
        )
    return sorted(chosen)
