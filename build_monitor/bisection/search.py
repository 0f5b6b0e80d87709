"""Step-wise flake-aware bisection: which commits to build next, and what the evidence says."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from build_monitor.bisection.observation import Observation, Outcome
from build_monitor.bisection.policy import choose_probes
from build_monitor.bisection.posterior import CommitTally, FlakeModel, Posterior, compute_posterior
from build_monitor.bisection.result import BisectResult, BisectStatus
from build_monitor.bisection.settings import BisectSettings
from build_monitor.bisection.signatures import SignatureMatcher, signatures_match
from build_monitor.errors import InvalidInputError

SHORT_SHA = 10
MAX_TIED_SUSPECTS = 100


@dataclass(frozen=True)
class _Decision:
    posterior: Posterior
    probes: list[int] = field(default_factory=list)
    result: BisectResult | None = None


@dataclass(frozen=True)
class _Block:
    """Hypotheses no remaining probe can tell apart: positions ``lo+1 .. hi``."""

    lo: int
    hi: int
    mass: float


def _short(commit: str) -> str:
    return commit[:SHORT_SHA]


def _percent(probability: float) -> str:
    return f"{probability:.3f}" if probability < 0.9995 else f"{probability:.5f}"


class BisectSearch:
    """Flake-aware noisy binary search over ``commits`` (oldest first: ``commits[0]`` is the last
    known good commit, ``commits[-1]`` the first bad one).

    Drive it round by round: ``next_probes()`` names the commits to build (at most
    ``settings.parallel``, ``[]`` once ``done``), ``record()`` each result, then ``result()``.
    The state is a pure function of the observations, so :meth:`replay` (or
    :meth:`from_snapshot`) resumes an interrupted bisection exactly.

    ``known`` holds observations made before the search (typically the bad commit's failing
    build): they are evidence but cost no build. A failure whose signature does not match
    ``target_signature`` makes that commit untestable for this breakage (like
    ``git bisect skip``); ``error`` outcomes are retried ``settings.error_retries`` times, then
    the commit is skipped. Nothing untestable is ever blamed.
    """

    def __init__(
        self,
        commits: Sequence[str],
        *,
        target_signature: str | None,
        settings: BisectSettings = BisectSettings(),
        signature_match: SignatureMatcher = signatures_match,
        known: Iterable[Observation] = (),
    ) -> None:
        self._commits = tuple(commits)
        if len(self._commits) < 2:
            raise InvalidInputError(
                "bisection needs at least a good and a bad commit, oldest first; "
                f"got {len(self._commits)} commit(s)"
            )
        self._positions = {commit: position for position, commit in enumerate(self._commits)}
        if len(self._positions) != len(self._commits):
            duplicates = sorted({c for c in self._commits if self._commits.count(c) > 1})
            raise InvalidInputError(f"commit list has duplicates: {', '.join(duplicates)}")
        self._target_signature = target_signature
        self._settings = settings
        self._signature_match = signature_match
        self._model = FlakeModel(
            flake_prior=settings.flake_prior,
            flake_prior_weight=settings.flake_prior_weight,
            false_pass_rate=settings.false_pass_rate,
            no_culprit_prior=settings.no_culprit_prior,
        )
        self._budget = settings.build_budget(self.candidates)
        self._tallies = {position: CommitTally() for position in range(len(self._commits))}
        self._known: list[Observation] = []
        self._recorded: list[Observation] = []
        self._builds = 0
        self._decision: _Decision | None = None
        for observation in known:
            self._tally(observation)
            self._known.append(observation)

    @classmethod
    def replay(
        cls,
        commits: Sequence[str],
        *,
        target_signature: str | None,
        settings: BisectSettings = BisectSettings(),
        signature_match: SignatureMatcher = signatures_match,
        known: Iterable[Observation] = (),
        observations: Iterable[Observation] = (),
    ) -> BisectSearch:
        """Rebuild a search from the observations it recorded (``result().observations`` or
        ``.observations``), e.g. to resume after a crash."""
        search = cls(
            commits,
            target_signature=target_signature,
            settings=settings,
            signature_match=signature_match,
            known=known,
        )
        for observation in observations:
            search.record(observation)
        return search

    def snapshot(self) -> dict[str, Any]:
        """JSON-friendly state; :meth:`from_snapshot` restores it (the matcher is not saved)."""
        return {
            "commits": list(self._commits),
            "target_signature": self._target_signature,
            "settings": self._settings.to_dict(),
            "known": [observation.to_dict() for observation in self._known],
            "observations": [observation.to_dict() for observation in self._recorded],
        }

    @classmethod
    def from_snapshot(
        cls, snapshot: dict[str, Any], *, signature_match: SignatureMatcher = signatures_match
    ) -> BisectSearch:
        """Restore a search saved by :meth:`snapshot`."""
        try:
            return cls.replay(
                snapshot["commits"],
                target_signature=snapshot["target_signature"],
                settings=BisectSettings.from_dict(snapshot["settings"]),
                signature_match=signature_match,
                known=[Observation.from_dict(item) for item in snapshot["known"]],
                observations=[Observation.from_dict(item) for item in snapshot["observations"]],
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"invalid bisection snapshot: missing {exc}") from None

    @property
    def commits(self) -> tuple[str, ...]:
        return self._commits

    @property
    def candidates(self) -> int:
        """Number of suspect commits (all but the known good one)."""
        return len(self._commits) - 1

    @property
    def settings(self) -> BisectSettings:
        return self._settings

    @property
    def observations(self) -> tuple[Observation, ...]:
        """Observations recorded during this search, in order."""
        return tuple(self._recorded)

    @property
    def builds(self) -> int:
        """Executed probes so far (known and cached observations are free)."""
        return self._builds

    @property
    def budget(self) -> int:
        return self._budget

    @property
    def done(self) -> bool:
        return self._decide().result is not None

    def next_probes(self) -> list[str]:
        """Commits to build in the next round (at most ``settings.parallel``); ``[]`` when done.
        Calling it again without recording returns the same commits."""
        return [self._commits[position] for position in self._decide().probes]

    def likely_reruns(self) -> list[str]:
        """Commits the search expects to build again: the earliest one that failed with the
        target signature, whose failure must reproduce before it can be confirmed as the
        culprit (a builder can keep its checkout warm for that rerun)."""
        for position in range(1, len(self._commits)):
            if self._tallies[position].target_failures:
                return [self._commits[position]]
        return []

    def record(self, observation: Observation) -> None:
        """Add one probe result (any commit of the range, requested or not)."""
        self._tally(observation)
        self._recorded.append(observation)
        if not observation.cached:
            self._builds += 1

    def probabilities(self) -> dict[str, float]:
        """Current P(culprit = commit) for every suspect commit."""
        posterior = self._decide().posterior
        return {
            self._commits[position]: posterior.probabilities[position]
            for position in range(1, self.candidates + 1)
        }

    def result(self) -> BisectResult:
        """The conclusion; before ``done`` it is an ``inconclusive`` progress report."""
        decision = self._decide()
        if decision.result is not None:
            return decision.result
        pending = ", ".join(_short(self._commits[p]) for p in decision.probes)
        return self._inconclusive(
            decision.posterior, f"search still running: next probes {pending}"
        )

    def _tally(self, observation: Observation) -> None:
        if not isinstance(observation, Observation):
            raise InvalidInputError(f"expected an Observation, got {observation!r}")
        position = self._positions.get(observation.commit)
        if position is None:
            raise InvalidInputError(
                f"observation for commit {observation.commit!r}, which is not in the bisected range"
            )
        tally = self._tallies[position]
        if observation.outcome is Outcome.PASSED:
            tally.passes += 1
        elif observation.outcome is Outcome.ERROR:
            tally.errors += 1
        elif self._signature_match(self._target_signature, observation.signature):
            tally.target_failures += 1
        else:
            tally.other_failures += 1
        self._decision = None

    def _skipped(self, position: int) -> bool:
        tally = self._tallies[position]
        return tally.other_failures > 0 or tally.errors > self._settings.error_retries

    def _blocks(self, posterior: Posterior) -> list[_Block]:
        """Split hypotheses at every commit that can still tell them apart: one that can be
        probed or already was."""
        blocks = []
        lo = 0
        mass = 0.0
        last = self.candidates + 1
        for position in range(1, last + 1):
            mass += posterior.probabilities[position]
            tally = self._tallies.get(position)
            is_boundary = position == last or (
                tally is not None and (not self._skipped(position) or tally.informative)
            )
            if is_boundary:
                blocks.append(_Block(lo=lo, hi=position, mass=mass))
                lo, mass = position, 0.0
        return blocks

    def _decide(self) -> _Decision:
        if self._decision is None:
            self._decision = self._make_decision()
        return self._decision

    def _make_decision(self) -> _Decision:
        settings = self._settings
        posterior = compute_posterior(self._tallies, self.candidates, self._model)
        budget_left = self._budget - self._builds
        top = max(self._blocks(posterior), key=lambda block: block.mass)
        if top.mass >= settings.confidence:
            if top.hi - top.lo > 1:
                return _Decision(posterior, result=self._window_result(posterior, top))
            return self._localized(posterior, top.hi, budget_left)
        if budget_left <= 0:
            return _Decision(posterior, result=self._budget_result(posterior))
        probeable = [not self._skipped(p) for p in range(len(self._commits))]
        runs = [
            self._tallies[p].target_failures + self._tallies[p].passes
            for p in range(len(self._commits))
        ]
        probes = choose_probes(
            posterior,
            probeable,
            runs,
            min(settings.parallel, budget_left),
            minimum_split=(1.0 - settings.confidence) / 20,
        )
        if not probes:
            reason = (
                "no testable commit can split the remaining suspects any further "
                f"(untestable commits: {self._describe_skipped()})"
            )
            return _Decision(posterior, result=self._inconclusive(posterior, reason))
        return _Decision(posterior, probes=probes)

    def _localized(self, posterior: Posterior, position: int, budget_left: int) -> _Decision:
        """One hypothesis holds the required mass: conclude, or verify it first."""
        probability = posterior.probabilities[position]
        if position == self.candidates + 1:
            bad = self._tallies[self.candidates]
            reason = (
                f"the failure of {_short(self._commits[-1])} did not hold up (failed "
                f"{bad.target_failures}, passed {bad.passes}): the red result was most likely a "
                f"flake (p={_percent(probability)}), no culprit in range"
            )
            return _Decision(
                posterior,
                result=self._make_result(BisectStatus.NO_CULPRIT, posterior, None, reason),
            )
        culprit, parent = self._commits[position], self._commits[position - 1]
        if not self._settings.verify:
            reason = (
                f"{_short(culprit)} is the culprit with p={_percent(probability)} "
                "(verification disabled)"
            )
            return _Decision(
                posterior,
                result=self._make_result(BisectStatus.UNVERIFIED, posterior, culprit, reason),
            )
        needed = []
        if self._tallies[position].target_failures < 2:
            needed.append(position)
        if self._tallies[position - 1].passes < 1:
            needed.append(position - 1)
        if not needed:
            culprit_tally, parent_tally = self._tallies[position], self._tallies[position - 1]
            reason = (
                f"{_short(culprit)} broke it: it failed {culprit_tally.target_failures} of "
                f"{culprit_tally.target_failures + culprit_tally.passes} runs with the target "
                f"signature and its parent {_short(parent)} passed {parent_tally.passes} of "
                f"{parent_tally.passes + parent_tally.target_failures}; "
                f"p={_percent(probability)} after {self._builds} builds "
                f"(estimated flake rate {posterior.flake_rate:.1%})"
            )
            return _Decision(
                posterior,
                result=self._make_result(BisectStatus.CONFIRMED, posterior, culprit, reason),
            )
        unverifiable = [p for p in needed if self._skipped(p)]
        if unverifiable:
            reason = (
                f"top suspect {_short(culprit)} (p={_percent(probability)}) cannot be verified: "
                + ", ".join(f"{_short(self._commits[p])} is untestable" for p in unverifiable)
            )
            return _Decision(posterior, result=self._inconclusive(posterior, reason))
        if budget_left <= 0:
            return _Decision(posterior, result=self._budget_result(posterior))
        return _Decision(posterior, probes=needed[: min(self._settings.parallel, budget_left)])

    def _describe_skipped(self) -> str:
        skipped = [p for p in range(len(self._commits)) if self._skipped(p)]
        if not skipped:
            return "none"
        return ", ".join(_short(self._commits[p]) for p in skipped)

    def _window_result(self, posterior: Posterior, block: _Block) -> BisectResult:
        first = self._commits[block.lo + 1]
        last_position = min(block.hi, self.candidates)
        last = self._commits[last_position]
        untestable = [p for p in range(block.lo + 1, last_position + 1) if self._skipped(p)]
        beyond = " or no culprit at all" if block.hi == self.candidates + 1 else ""
        reason = (
            f"the breakage lies in {_short(first)}..{_short(last)}{beyond} "
            f"(p={_percent(block.mass)}) but cannot be narrowed further: "
            + ", ".join(_short(self._commits[p]) for p in untestable)
            + " cannot test it (other failure or repeated infrastructure errors)"
        )
        window = [
            (self._commits[p], posterior.probabilities[p])
            for p in range(block.lo + 1, last_position + 1)
        ]
        window.sort(key=lambda item: -item[1])
        return BisectResult(
            status=BisectStatus.INCONCLUSIVE,
            culprit=None,
            confidence=window[0][1] if window else 0.0,
            suspects=window,
            builds=self._builds,
            observations=list(self._recorded),
            flake_rate=posterior.flake_rate,
            reason=reason,
        )

    def _budget_result(self, posterior: Posterior) -> BisectResult:
        suspects = self._top_suspects(posterior)
        top = f"top suspect {_short(suspects[0][0])} (p={_percent(suspects[0][1])})"
        reason = (
            f"build budget of {self._budget} spent; {top} is below the required "
            f"{self._settings.confidence} confidence or unverified"
        )
        return self._inconclusive(posterior, reason)

    def _inconclusive(self, posterior: Posterior, reason: str) -> BisectResult:
        return self._make_result(BisectStatus.INCONCLUSIVE, posterior, None, reason)

    def _top_suspects(self, posterior: Posterior) -> list[tuple[str, float]]:
        """The ``max_suspects`` most likely commits, extended by commits tied with the last one
        (an untestable window has equal probabilities and is listed whole, up to a cap)."""
        probabilities = posterior.probabilities
        ranked = sorted(range(1, self.candidates + 1), key=lambda p: (-probabilities[p], p))
        count = min(self._settings.max_suspects, len(ranked))
        floor = probabilities[ranked[count - 1]] * (1 - 1e-9)
        while count < min(len(ranked), MAX_TIED_SUSPECTS) and probabilities[ranked[count]] >= floor:
            count += 1
        return [
            (self._commits[p], probabilities[p]) for p in ranked[:count] if probabilities[p] > 0
        ]

    def _make_result(
        self, status: BisectStatus, posterior: Posterior, culprit: str | None, reason: str
    ) -> BisectResult:
        suspects = self._top_suspects(posterior)
        if status is BisectStatus.NO_CULPRIT:
            confidence = posterior.no_culprit
        elif culprit is not None:
            confidence = posterior.probabilities[self._positions[culprit]]
        else:
            confidence = suspects[0][1]
        return BisectResult(
            status=status,
            culprit=culprit,
            confidence=confidence,
            suspects=suspects,
            builds=self._builds,
            observations=list(self._recorded),
            flake_rate=posterior.flake_rate,
            reason=reason,
        )


ProbeFunction = Callable[[list[str]], list[Observation]]


def run_search(search: BisectSearch, probe: ProbeFunction) -> BisectResult:
    """Drive ``search`` to its end synchronously: build the requested commits with ``probe``
    (which returns one observation per commit it managed to probe) and record the results."""
    max_rounds = 4 * search.budget + 16
    for _ in range(max_rounds):
        commits = search.next_probes()
        if not commits:
            return search.result()
        observations = probe(commits)
        if not observations:
            raise InvalidInputError(f"probe returned no observations for {', '.join(commits)}")
        for observation in observations:
            search.record(observation)
    raise InvalidInputError(
        f"bisection did not finish within {max_rounds} rounds: the probe keeps returning "
        "cached results"
    )
