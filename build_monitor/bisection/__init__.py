"""Flake-aware culprit finding: a pure, step-wise noisy bisection.

A Bayesian noisy binary search (after Henderson et al., "Flake Aware Culprit Finding",
ICST 2023) keeps a probability for every suspect commit plus one for "the red result was a
flake", probes where the probability mass splits, skips commits that fail for another reason,
retries infrastructure errors, and verifies the culprit (failure reproduces, parent passes)
before confirming it.
"""

from __future__ import annotations

from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.result import BisectResult, BisectStatus
from build_monitor.bisection.search import BisectSearch, ProbeFunction, run_search
from build_monitor.bisection.settings import BisectSettings
from build_monitor.bisection.signatures import TargetMatcher, matches_target

__all__ = [
    "BisectResult",
    "BisectSearch",
    "BisectSettings",
    "BisectStatus",
    "Observation",
    "ProbeFunction",
    "ProbeOutcome",
    "TargetMatcher",
    "matches_target",
    "run_search",
]
