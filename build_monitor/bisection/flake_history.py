"""A service's flake rate learned from its earlier bisections, as the prior of the next one.

A confirmed bisection proves every commit before its culprit good, so each of its probes at
those commits is one run of the failing test on a good commit: a failure there with the same
signature was a flake. Pooled over earlier bisections of the same breakage signature, those
runs estimate the test's flake rate better than any fixed default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.signatures import matches_target

# The search requires a prior below 0.5; a test failing half the time cannot be bisected anyway.
MAX_LEARNED_PRIOR = 0.45


@dataclass(frozen=True)
class FlakeEvidence:
    """Runs of the target test at commits known good, and how many of them failed."""

    runs: int = 0
    flaky_failures: int = 0

    def __add__(self, other: FlakeEvidence) -> FlakeEvidence:
        return FlakeEvidence(self.runs + other.runs, self.flaky_failures + other.flaky_failures)

    def __post_init__(self) -> None:
        if self.runs < 0 or not 0 <= self.flaky_failures <= self.runs:
            raise ValueError(f"impossible flake evidence: {self}")


def evidence_from_bisection(
    observations: Iterable[Observation],
    *,
    target_signature: str,
    known_good: Callable[[str], bool],
) -> FlakeEvidence:
    """What one confirmed bisection tells about the flake rate of `target_signature`: its
    probes (not reused records, which other bisections may count too) at `known_good` commits.
    Failures with another signature say nothing about this test."""
    runs = flaky = 0
    for observation in observations:
        if observation.cached or observation.outcome is ProbeOutcome.ERROR:
            continue
        is_target_failure = observation.outcome is ProbeOutcome.FAILED and matches_target(
            target_signature, observation.signature
        )
        if observation.outcome is ProbeOutcome.FAILED and not is_target_failure:
            continue
        if not known_good(observation.commit):
            continue
        runs += 1
        flaky += is_target_failure
    return FlakeEvidence(runs, flaky)


def learned_flake_prior(evidence: FlakeEvidence, *, prior: float, prior_weight: float) -> float:
    """The configured prior updated by the evidence, as a Beta mean with the prior worth
    `prior_weight` runs. Only ever raised: a lower prior saves few builds, while a flaky test
    that has merely been lucky so far would cost accuracy. Learning stops at
    :data:`MAX_LEARNED_PRIOR`."""
    if prior_weight <= 0:
        raise ValueError("prior_weight must be > 0")
    mean = (prior * prior_weight + evidence.flaky_failures) / (prior_weight + evidence.runs)
    return max(prior, min(mean, MAX_LEARNED_PRIOR))
