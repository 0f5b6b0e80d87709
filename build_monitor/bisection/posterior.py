"""The noisy-bisection model: a probability for every suspect commit, and the flake rate.

Positions index the commit list: 0 is the last known good commit, 1..n are the suspects
(n is the first known bad commit) and n + 1 stands for "no culprit in range" (the red result
was itself a flake). Hypothesis ``c`` says commits before ``c`` are good and commits from ``c``
on are broken. Under it, a probe of commit ``j`` fails with the target signature with
probability ``flake_rate`` if ``j < c`` and ``1 - false_pass_rate`` otherwise.

The likelihood only changes at probed commits, so hypotheses are handled in segments between
probed positions; this keeps an update O(probed commits), and expanding to one probability per
commit O(n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

MIN_FLAKE_RATE = 1e-6
MAX_FLAKE_RATE = 0.95
FLAKE_ESTIMATE_ITERATIONS = 4


@dataclass
class CommitTally:
    """What the probes of one commit said, by kind."""

    target_failures: int = 0
    passes: int = 0
    other_failures: int = 0
    errors: int = 0

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
    "no culprit in range" hypothesis and index 0 is always 0 (the good commit is good)."""

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


def _segment_log_likelihoods(
    observed: list[tuple[int, CommitTally]], flake_rate: float, false_pass_rate: float
) -> list[float]:
    """Log-likelihood of each segment: segment k holds hypotheses c with
    ``observed[k-1] < c <= observed[k]``, so commits observed[:k] are good, the rest broken."""
    log_flake, log_clean = _log(flake_rate), _log(1.0 - flake_rate)
    log_hit, log_false_pass = _log(1.0 - false_pass_rate), _log(false_pass_rate)

    def good_ll(tally: CommitTally) -> float:
        return tally.target_failures * log_flake + tally.passes * log_clean

    def broken_ll(tally: CommitTally) -> float:
        passes_ll = tally.passes * log_false_pass if tally.passes else 0.0
        return tally.target_failures * log_hit + passes_ll

    suffix_broken = [0.0] * (len(observed) + 1)
    for k in range(len(observed) - 1, -1, -1):
        suffix_broken[k] = suffix_broken[k + 1] + broken_ll(observed[k][1])
    result = []
    prefix_good = 0.0
    for k in range(len(observed) + 1):
        result.append(prefix_good + suffix_broken[k])
        if k < len(observed):
            prefix_good += good_ll(observed[k][1])
    return result


def _segment_weights(
    observed: list[tuple[int, CommitTally]], candidates: int, flake_rate: float, model: FlakeModel
) -> tuple[list[tuple[int, int]], list[float], float]:
    """Bounds ``(lo, hi]`` of each segment, its unnormalised per-hypothesis weight, and the
    normaliser (sum of prior mass times weight)."""
    per_commit_prior = (1.0 - model.no_culprit_prior) / candidates
    log_likelihoods = _segment_log_likelihoods(observed, flake_rate, model.false_pass_rate)
    best = max(log_likelihoods)
    upper_bounds = [position for position, _ in observed] + [candidates + 1]
    bounds = []
    weights = []
    normaliser = 0.0
    lo = 0
    for hi, log_likelihood in zip(upper_bounds, log_likelihoods, strict=True):
        weight = math.exp(log_likelihood - best) if log_likelihood > -math.inf else 0.0
        commits = min(hi, candidates) - lo
        prior_mass = commits * per_commit_prior
        if hi == candidates + 1:
            prior_mass += model.no_culprit_prior
        bounds.append((lo, hi))
        weights.append(weight)
        normaliser += prior_mass * weight
        lo = hi
    return bounds, weights, normaliser


def _estimate_flake_rate(
    observed: list[tuple[int, CommitTally]], candidates: int, model: FlakeModel
) -> float:
    """Posterior-mean flake rate: a Beta prior updated with the target failures seen at commits,
    weighted by the probability that each commit is good (expectation-maximisation)."""
    alpha = model.flake_prior * model.flake_prior_weight
    beta = (1.0 - model.flake_prior) * model.flake_prior_weight
    flake_rate = min(max(model.flake_prior, MIN_FLAKE_RATE), MAX_FLAKE_RATE)
    if not observed:
        return flake_rate
    per_commit_prior = (1.0 - model.no_culprit_prior) / candidates
    for _ in range(FLAKE_ESTIMATE_ITERATIONS):
        bounds, weights, normaliser = _segment_weights(observed, candidates, flake_rate, model)
        masses = []
        for (lo, hi), weight in zip(bounds, weights, strict=True):
            prior_mass = (min(hi, candidates) - lo) * per_commit_prior
            if hi == candidates + 1:
                prior_mass += model.no_culprit_prior
            masses.append(prior_mass * weight / normaliser)
        good_mass = 0.0  # P(culprit after observed[k]) = sum of segments k+1..
        flakes = 0.0
        good_runs = 0.0
        for k in range(len(observed) - 1, -1, -1):
            good_mass += masses[k + 1]
            tally = observed[k][1]
            flakes += good_mass * tally.target_failures
            good_runs += good_mass * (tally.target_failures + tally.passes)
        updated = (alpha + flakes) / (alpha + beta + good_runs)
        updated = min(max(updated, MIN_FLAKE_RATE), MAX_FLAKE_RATE)
        converged = abs(updated - flake_rate) < 1e-5
        flake_rate = updated
        if converged:
            break
    return flake_rate


def compute_posterior(
    tallies: Mapping[int, CommitTally], candidates: int, model: FlakeModel
) -> Posterior:
    """Posterior over the culprit position given every target-relevant observation."""
    observed = sorted(
        (position, tally) for position, tally in tallies.items() if tally.informative
    )
    flake_rate = _estimate_flake_rate(observed, candidates, model)
    bounds, weights, normaliser = _segment_weights(observed, candidates, flake_rate, model)
    per_commit_prior = (1.0 - model.no_culprit_prior) / candidates
    probabilities = [0.0] * (candidates + 2)
    for (lo, hi), weight in zip(bounds, weights, strict=True):
        density = per_commit_prior * weight / normaliser
        for position in range(lo + 1, min(hi, candidates) + 1):
            probabilities[position] = density
        if hi == candidates + 1:
            probabilities[candidates + 1] = model.no_culprit_prior * weight / normaliser
    return Posterior(probabilities=tuple(probabilities), flake_rate=flake_rate)
