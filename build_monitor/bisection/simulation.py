"""Simulated commit histories for testing and benchmarking bisection, with a plain
``git bisect run`` baseline to compare against. Everything is driven by a seeded RNG."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from build_monitor.bisection.flake_history import (
    FlakeEvidence,
    evidence_from_bisection,
    learned_flake_prior,
)
from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.result import BisectResult, BisectStatus
from build_monitor.bisection.search import BisectSearch, run_search
from build_monitor.bisection.settings import BisectSettings

TARGET_SIGNATURE = "thread 'api::tests::health' panicked at src/api.rs:{line}:9: status 500"
OTHER_SIGNATURE = "error[E0432]: unresolved import `crate::cache` --> src/cache.rs:{line}:5"
ERROR_SIGNATURE = "docker: Error response from daemon: no space left on device"


@dataclass(frozen=True)
class SimulatedHistory:
    """A range ``commits[0]`` (good) .. ``commits[-1]`` (bad) with a known truth.

    ``culprit`` is the position of the breaking commit (``None``: the bad commit's failure was a
    flake). At a good commit the target test fails with probability ``flake_rate``; commits in
    ``untestable`` fail with another signature (e.g. an unrelated compile error fixed later);
    any probe returns an infrastructure ``error`` with probability ``error_rate``.
    """

    commits: tuple[str, ...]
    culprit: int | None
    flake_rate: float = 0.0
    untestable: frozenset[int] = frozenset()
    error_rate: float = 0.0

    @property
    def candidates(self) -> int:
        return len(self.commits) - 1

    @property
    def culprit_commit(self) -> str | None:
        return None if self.culprit is None else self.commits[self.culprit]

    @property
    def target_signature(self) -> str:
        return TARGET_SIGNATURE.format(line=40)

    @property
    def isolatable(self) -> bool:
        """Whether the culprit can be pinned down: it and its parent can run the target test."""
        if self.culprit is None:
            return True
        return self.culprit not in self.untestable and self.culprit - 1 not in self.untestable

    def probe(self, position: int, rng: random.Random) -> Observation:
        """Build and test ``commits[position]`` once."""
        commit = self.commits[position]
        if self.error_rate and rng.random() < self.error_rate:
            return Observation(commit, ProbeOutcome.ERROR, ERROR_SIGNATURE)
        # Code moves between commits: line numbers in signatures drift.
        line = 40 + position // 7
        if position in self.untestable:
            return Observation(commit, ProbeOutcome.FAILED, OTHER_SIGNATURE.format(line=line))
        broken = self.culprit is not None and position >= self.culprit
        if broken or (self.flake_rate and rng.random() < self.flake_rate):
            return Observation(commit, ProbeOutcome.FAILED, TARGET_SIGNATURE.format(line=line))
        return Observation(commit, ProbeOutcome.PASSED)

    def known_bad_observation(self) -> Observation:
        """The failing build of the bad commit that started the bisection (free evidence)."""
        return Observation(
            self.commits[-1], ProbeOutcome.FAILED, TARGET_SIGNATURE.format(line=41), cached=True
        )


@dataclass(frozen=True)
class Scenario:
    """A family of random histories for benchmarks and statistical tests."""

    name: str
    candidates: int
    flake_rate: float = 0.0
    untestable_windows: int = 0
    max_window: int = 8
    error_rate: float = 0.0
    no_culprit_fraction: float = 0.0


def commit_names(count: int) -> tuple[str, ...]:
    """Stable fake shas, oldest first."""
    return tuple(
        f"{position:04d}{(position * 2654435761) % 16**36:036x}" for position in range(count)
    )


def generate_history(scenario: Scenario, rng: random.Random) -> SimulatedHistory:
    """A random history of ``scenario.candidates`` suspects: uniform culprit position, random
    untestable windows (never covering the bad commit, whose target failure was observed)."""
    candidates = scenario.candidates
    culprit: int | None = rng.randint(1, candidates)
    if scenario.no_culprit_fraction and rng.random() < scenario.no_culprit_fraction:
        culprit = None
    untestable: set[int] = set()
    for _ in range(scenario.untestable_windows):
        if candidates < 2:
            break
        start = rng.randint(1, candidates - 1)
        length = rng.randint(1, scenario.max_window)
        untestable.update(range(start, min(start + length, candidates)))
    return SimulatedHistory(
        commits=commit_names(candidates + 1),
        culprit=culprit,
        flake_rate=scenario.flake_rate,
        untestable=frozenset(untestable),
        error_rate=scenario.error_rate,
    )


@dataclass
class SimulatedProber:
    """A ``probe`` callable for :func:`run_search` that runs the history and counts builds."""

    history: SimulatedHistory
    rng: random.Random
    builds: int = 0
    rounds: int = 0
    positions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.positions = {commit: p for p, commit in enumerate(self.history.commits)}

    def __call__(self, commits: list[str]) -> list[Observation]:
        self.builds += len(commits)
        self.rounds += 1
        return [self.history.probe(self.positions[commit], self.rng) for commit in commits]


@dataclass(frozen=True)
class SimulatedRun:
    """A finished simulated bisection and how many probe rounds it took."""

    result: BisectResult
    rounds: int


def run_simulated_search(
    history: SimulatedHistory, settings: BisectSettings, rng: random.Random
) -> SimulatedRun:
    """Flake-aware bisection of ``history`` (the bad commit's failure is a free known
    observation)."""
    search = BisectSearch(
        history.commits,
        target_signature=history.target_signature,
        settings=settings,
        known=[history.known_bad_observation()],
    )
    prober = SimulatedProber(history, rng)
    return SimulatedRun(result=run_search(search, prober), rounds=prober.rounds)


@dataclass(frozen=True)
class GitBisectResult:
    """What plain ``git bisect run`` blamed and how many builds it used."""

    culprit: str
    builds: int


def simulate_git_bisect(history: SimulatedHistory, rng: random.Random) -> GitBisectResult:
    """Plain ``git bisect run`` with a naive script: any failure or infrastructure error exits
    non-zero (bad), a pass exits 0 (good). Such a script never exits 125, so nothing is skipped.
    The bad commit is known bad, the good one known good."""
    good, bad = 0, history.candidates
    builds = 0
    while bad - good > 1:
        middle = (good + bad) // 2
        builds += 1
        if history.probe(middle, rng).outcome is ProbeOutcome.PASSED:
            good = middle
        else:
            bad = middle
    return GitBisectResult(culprit=history.commits[bad], builds=builds)


@dataclass
class MethodStats:
    """Accuracy counters of one method over many ranges."""

    correct: int = 0
    wrong: int = 0
    inconclusive: int = 0
    builds: int = 0
    rounds: int = 0
    runs: int = 0

    @property
    def mean_builds(self) -> float:
        return self.builds / self.runs if self.runs else 0.0

    @property
    def mean_rounds(self) -> float:
        return self.rounds / self.runs if self.runs else 0.0

    def rate(self, count: int) -> float:
        return count / self.runs if self.runs else 0.0


@dataclass
class ScenarioComparison:
    """Flake-aware search against ``git bisect run`` on the same histories."""

    scenario: Scenario
    flake_aware: MethodStats = field(default_factory=MethodStats)
    git_bisect: MethodStats = field(default_factory=MethodStats)


def classify(history: SimulatedHistory, result: BisectResult) -> str:
    """``correct`` (the true culprit confirmed, or "no culprit" when there is none, or an honest
    inconclusive window containing it when it cannot be isolated), ``wrong`` (another commit
    blamed) or ``inconclusive``."""
    if result.status in (BisectStatus.CONFIRMED, BisectStatus.UNVERIFIED):
        return "correct" if result.culprit == history.culprit_commit else "wrong"
    if result.status is BisectStatus.NO_CULPRIT:
        return "correct" if history.culprit is None else "wrong"
    suspects = {commit for commit, _ in result.suspects}
    if not history.isolatable and history.culprit_commit in suspects:
        return "correct"
    return "inconclusive"


def compare_methods(
    scenario: Scenario,
    ranges: int,
    seed: int,
    settings: BisectSettings,
    *,
    on_result: Callable[[SimulatedHistory, BisectResult], None] | None = None,
) -> ScenarioComparison:
    """Run both methods on ``ranges`` seeded random histories of ``scenario``."""
    comparison = ScenarioComparison(scenario)
    rng = random.Random(seed)
    for _ in range(ranges):
        history = generate_history(scenario, rng)
        run = run_simulated_search(history, settings, rng)
        if on_result is not None:
            on_result(history, run.result)
        verdict = classify(history, run.result)
        stats = comparison.flake_aware
        stats.runs += 1
        stats.builds += run.result.builds
        stats.rounds += run.rounds
        setattr(stats, verdict, getattr(stats, verdict) + 1)
        baseline = simulate_git_bisect(history, rng)
        comparison.git_bisect.runs += 1
        comparison.git_bisect.builds += baseline.builds
        comparison.git_bisect.rounds += baseline.builds
        if baseline.culprit == history.culprit_commit:
            comparison.git_bisect.correct += 1
        else:
            comparison.git_bisect.wrong += 1
    return comparison


@dataclass(frozen=True)
class LearningRun:
    """A sequence of bisections of one service, in order: each started from the flake prior
    learned from the confirmed ones before it (as the bisect flow does)."""

    verdicts: list[str]
    priors: list[float]
    builds: list[int]

    def accuracy(self, start: int = 0) -> float:
        tail = self.verdicts[start:]
        return tail.count("correct") / len(tail) if tail else 0.0


def simulate_learned_priors(
    scenario: Scenario, ranges: int, seed: int, settings: BisectSettings
) -> LearningRun:
    """Bisect ``ranges`` seeded histories one after another, pooling the flake evidence of
    each confirmed result (commits before the culprit *it* named count as good, right or
    wrong) into the next one's prior."""
    rng = random.Random(seed)
    evidence = FlakeEvidence()
    verdicts: list[str] = []
    priors: list[float] = []
    builds: list[int] = []
    for _ in range(ranges):
        history = generate_history(scenario, rng)
        prior = learned_flake_prior(
            evidence, prior=settings.flake_prior, prior_weight=settings.flake_prior_weight
        )
        result = run_simulated_search(history, replace(settings, flake_prior=prior), rng).result
        verdicts.append(classify(history, result))
        priors.append(prior)
        builds.append(result.builds)
        if result.status is BisectStatus.CONFIRMED and result.culprit:
            good = set(history.commits[: history.commits.index(result.culprit)])
            evidence += evidence_from_bisection(
                result.observations,
                target_signature=history.target_signature,
                known_good=good.__contains__,
            )
    return LearningRun(verdicts, priors, builds)
