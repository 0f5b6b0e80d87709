"""Choosing which commits to build next: split the probability mass, not the commit count."""

from __future__ import annotations

from collections.abc import Sequence

from build_monitor.bisection.posterior import Posterior

PLAUSIBLE_FRACTION = 0.5
# How much worse a split an anchor may be under a prior hint (see choose_probes); chosen with
# benchmarks/bisect_hints.py.
ANCHOR_SLACK = 0.15


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
    anchor_slack: float = 0.0,
) -> list[int]:
    """Up to ``count`` distinct positions whose "culprit at or before" masses sit closest to the
    quantiles ``1/(count+1), ..., count/(count+1)``, so ``count`` parallel probes cut the mass
    into ``count + 1`` parts.

    A probe cannot split finer than one commit's mass, so every position within one commit's
    mass of the best is a near-tie; near-ties go to the position that best splits the count of
    the most plausible commits (those with at least half the top probability). Without flakes
    that is exactly git bisect's halving, which keeps the flake-free cost at ceil(log2 N) even
    though improbable flake hypotheses carry a little mass. Remaining ties prefer the commit
    built fewer times (a rerun is chosen only when it is the most informative probe), then the
    older one. Probes splitting off less than ``minimum_split`` are useless and never chosen.

    Anchors (with ``anchor_slack``, for a prior hint): a culprit is named only once it failed and
    its parent passed, so a probe at a plausible commit or at its parent is part of that proof,
    where a probe between two plausible commits (a peaked prior) only splits them. Anchors count
    as near-ties up to ``anchor_slack`` more mass away from the quantile, and win ties of the
    plausible split.
    """
    probabilities = posterior.probabilities
    cumulative = posterior.at_or_before()
    threshold = PLAUSIBLE_FRACTION * max(probabilities[1:-1], default=0.0)
    plausible_before = []
    plausible = 0
    for probability in probabilities:
        plausible += probability >= threshold
        plausible_before.append(plausible)
    useful = [
        position
        for position in range(1, posterior.candidates + 1)
        if probeable[position] and split_value(cumulative[position]) >= minimum_split
    ]

    def anchor(position: int) -> bool:
        return probabilities[position] >= threshold or probabilities[position + 1] >= threshold

    chosen: list[int] = []
    for quantile in (i / (count + 1) for i in range(1, count + 1)):
        remaining = [position for position in useful if position not in chosen]
        if not remaining:
            break
        best = min(remaining, key=lambda position: abs(cumulative[position] - quantile))
        tolerance = abs(cumulative[best] - quantile) + max(
            probabilities[best], probabilities[best + 1]
        )
        near_ties = [
            p
            for p in remaining
            if abs(cumulative[p] - quantile) <= tolerance + (anchor_slack if anchor(p) else 0.0)
        ]
        chosen.append(
            min(
                near_ties,
                key=lambda position: (
                    abs(plausible_before[position] - quantile * plausible),
                    anchor_slack > 0 and not anchor(position),
                    abs(cumulative[position] - quantile),
                    runs[position],
                    position,
                ),
            )
        )
    return sorted(chosen)
