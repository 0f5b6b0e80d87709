"""The noisy-bisection model: a probability for every suspect commit, and the flake rate.

Positions index the commit list: 0 is the last known good commit, 1..n are the suspects
(n is the first known bad commit) and n + 1 stands for "no culprit in range" (the red result
was itself a flake). Hypothesis ``c`` says commits before ``c`` are good and commits from ``c``
on are broken. Under it, a probe of commit ``j`` fails with the target signature with
probability ``f`` (the flake rate) if ``j < c`` and ``1 - false_pass_rate`` otherwise.

The flake rate is not fixed: it has a Beta prior (mean ``flake_prior``, worth
``flake_prior_weight`` runs) and is integrated out on a grid, so reruns of the same commit
(pass and fail at one commit, or a fail below a pass) move it, and uncertainty about it keeps
the culprit's probability honest instead of over-confident.

The likelihood only changes at probed commits, so hypotheses are handled in segments between
probed positions: an update costs O(grid x probed commits), expanding to one probability per
commit O(n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

MAX_FLAKE_RATE = 0.5
MIN_PRIOR_MEAN = 1e-4
_GRID_POINTS = 24
_SIMPSON_INTERVALS = 32


@dataclass
class CommitTally:
    """What the probes of one commit said, by kind. ``other_failures`` could not test the
    target for good (a compile error); ``flaky_untestable`` could not because another test
    failed first, which a rerun may not repeat."""

    target_failures: int = 0
    passes: int = 0
    other_failures: int = 0
    errors: int = 0
    flaky_untestable: int = 0
    seconds: float = 0.0

    @property
    def probed(self) -> bool:
        return bool(
            self.target_failures
            + self.passes
            + self.other_failures
            + self.errors
            + self.flaky_untestable
        )

    @property
    def informative(self) -> bool:
        """True when the commit has told us something about the target breakage."""
        return self.target_failures + self.passes > 0


@dataclass(frozen=True)
class FlakeModel:
    """Prior and noise parameters of the model."""

    flake_prior: float
    flake_prior_weight: float
    false_pass_rate: float
    no_culprit_prior: float


@dataclass(frozen=True)
class Posterior:
    """``probabilities[c]`` is P(culprit = position c) for c in 1..n; index n + 1 holds the
    "no culprit in range" hypothesis and index 0 is always 0 (the good commit is good).
    ``flake_rate`` is the posterior mean flake rate."""

    probabilities: tuple[float, ...]
    flake_rate: float

    @property
    def candidates(self) -> int:
        return len(self.probabilities) - 2

    @property
    def no_culprit(self) -> float:
        return self.probabilities[-1]

    def at_or_before(self) -> list[float]:
        """``result[j]`` = P(culprit position <= j): the chance a probe of ``j`` meets a broken
        commit (before flakes)."""
        total = 0.0
        cumulative = []
        for probability in self.probabilities:
            total += probability
            cumulative.append(total)
        return cumulative


def _log(value: float) -> float:
    return math.log(value) if value > 0 else -math.inf


def _beta_integral(alpha: float, beta: float, upper: float) -> float:
    """Unnormalised Beta CDF at ``upper`` (<= 0.5) by Simpson's rule after substituting
    ``u = f**alpha``, which removes the singularity at 0 when ``alpha < 1``."""
    end = upper**alpha
    step = end / _SIMPSON_INTERVALS

    def integrand(u: float) -> float:
        return (1.0 - u ** (1.0 / alpha)) ** (beta - 1.0) / alpha

    total = integrand(0.0) + integrand(end)
    for i in range(1, _SIMPSON_INTERVALS):
        total += (4 if i % 2 else 2) * integrand(i * step)
    return total * step / 3


@lru_cache(maxsize=64)
def flake_grid(alpha: float, beta: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Grid of flake rates (log-spaced from 1e-4 to 0.5) with the log prior mass of each cell
    under Beta(alpha, beta) truncated to [0, 0.5]."""
    low = 1e-4
    ratio = (MAX_FLAKE_RATE / low) ** (1 / (_GRID_POINTS - 1))
    points = [low * ratio**i for i in range(_GRID_POINTS)]
    edges = [0.0] + [math.sqrt(a * b) for a, b in pairwise(points)]
    edges.append(MAX_FLAKE_RATE)
    cdf = [_beta_integral(alpha, beta, edge) if edge > 0 else 0.0 for edge in edges]
    masses = [max(b - a, 1e-300) for a, b in pairwise(cdf)]
    total = sum(masses)
    return tuple(points), tuple(math.log(mass / total) for mass in masses)


def compute_posterior(
    tallies: Mapping[int, CommitTally],
    candidates: int,
    model: FlakeModel,
    prior_weights: Sequence[float] | None = None,
) -> Posterior:
    """Posterior over the culprit position, the flake rate integrated out. ``prior_weights``
    (one per suspect, summing to 1) replaces the uniform prior over suspects."""
    observed = sorted((p, t) for p, t in tallies.items() if t.informative)
    upper_bounds = [position for position, _ in observed] + [candidates + 1]
    culprit_mass = 1.0 - model.no_culprit_prior
    if prior_weights is None:
        commit_prior = [0.0] + [culprit_mass / candidates] * candidates
    else:
        commit_prior = [0.0] + [culprit_mass * weight for weight in prior_weights]
    cumulative_prior = [0.0]
    for value in commit_prior[1:]:
        cumulative_prior.append(cumulative_prior[-1] + value)
    prior_masses = []
    lo = 0
    for hi in upper_bounds:
        if prior_weights is None:
            mass = (min(hi, candidates) - lo) * commit_prior[1]
        else:
            mass = cumulative_prior[min(hi, candidates)] - cumulative_prior[lo]
        prior_masses.append(mass + (model.no_culprit_prior if hi == candidates + 1 else 0.0))
        lo = hi

    log_hit, log_false_pass = _log(1.0 - model.false_pass_rate), _log(model.false_pass_rate)
    # Segment k: observed[:k] are good commits, observed[k:] broken.
    suffix_broken = [0.0] * (len(observed) + 1)
    for k in range(len(observed) - 1, -1, -1):
        tally = observed[k][1]
        passes_ll = tally.passes * log_false_pass if tally.passes else 0.0
        suffix_broken[k] = suffix_broken[k + 1] + tally.target_failures * log_hit + passes_ll

    mean_prior = max(model.flake_prior, MIN_PRIOR_MEAN)
    rates, log_priors = flake_grid(
        mean_prior * model.flake_prior_weight, (1.0 - mean_prior) * model.flake_prior_weight
    )
    table = []  # (flake rate, [log weight per segment])
    best = -math.inf
    for rate, log_prior in zip(rates, log_priors, strict=True):
        log_flake, log_clean = math.log(rate), math.log(1.0 - rate)
        prefix_good = log_prior
        row = []
        for k in range(len(observed) + 1):
            row.append(prefix_good + suffix_broken[k])
            if k < len(observed):
                tally = observed[k][1]
                prefix_good += tally.target_failures * log_flake + tally.passes * log_clean
        best = max(best, *row)
        table.append((rate, row))

    segment_weights = [0.0] * (len(observed) + 1)
    weighted_rate = 0.0
    normaliser = 0.0
    for rate, row in table:
        rate_mass = 0.0
        for k, log_weight in enumerate(row):
            if log_weight > -math.inf:
                weight = math.exp(log_weight - best)
                segment_weights[k] += weight
                rate_mass += weight * prior_masses[k]
        normaliser += rate_mass
        weighted_rate += rate * rate_mass

    probabilities = [0.0] * (candidates + 2)
    lo = 0
    for hi, weight in zip(upper_bounds, segment_weights, strict=True):
        for position in range(lo + 1, min(hi, candidates) + 1):
            probabilities[position] = commit_prior[position] * weight / normaliser
        if hi == candidates + 1:
            probabilities[candidates + 1] = model.no_culprit_prior * weight / normaliser
        lo = hi
    return Posterior(probabilities=tuple(probabilities), flake_rate=weighted_rate / normaliser)
