"""Step-wise flake-aware bisection: which commits to build next, and what the evidence says."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from build_monitor.bisection.hints import PriorHint
from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.policy import ANCHOR_SLACK, choose_probes
from build_monitor.bisection.posterior import CommitTally, FlakeModel, Posterior, compute_posterior
from build_monitor.bisection.result import BisectResult, BisectStatus, UntestableWindow
from build_monitor.bisection.settings import BisectSettings
from build_monitor.bisection.signatures import TargetMatcher, matches_target
from build_monitor.bisection.target import ProbeTests, Target, Verdict, effective_target
from build_monitor.bisection.untestable import commit_specific_error, shared_reason, windows
from build_monitor.errors import InvalidInputError

SHORT_SHA = 10
MAX_TIED_SUSPECTS = 100
MULTI_TEST_FLAKE_PRIOR = 0.1


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
    build): they are evidence but cost no build. ``builds_before`` counts builds run for this
    bisection before the search (the bad commit's, when no failure of it was recorded): they are
    part of ``builds`` in the result and its reason.

    With a test-level ``target`` (:func:`~build_monitor.bisection.target.find_target`), an
    observation carrying ``tests`` is judged by its target tests: bad when one failed, good
    when all ran and passed whatever else failed, untestable when one could not run. Target
    tests known to flake (``test_flake_rates``, by test name) or shown inconsistent by the
    probes are left out of the verdicts while another target test remains. An untestable result
    caused by a test failure is probed again (up to ``settings.untestable_reprobes`` times) when
    it blocks narrowing. Without ``tests`` (custom test commands) a failure whose signature does
    not match ``target_signature`` makes that commit untestable for this breakage (like
    ``git bisect skip``). ``error`` outcomes are retried ``settings.error_retries`` times, then
    the commit is skipped. An error that reproduces at one commit while others build belongs to
    that commit (:meth:`commit_specific_errors`): its window names that error, and a probe should
    not retry it as an infrastructure error. Nothing untestable is ever blamed.

    ``prior_hint`` (:func:`~build_monitor.bisection.hints.hint_prior`) replaces the uniform
    prior over suspects.
    """

    def __init__(
        self,
        commits: Sequence[str],
        *,
        target_signature: str | None,
        settings: BisectSettings = BisectSettings(),
        signature_match: TargetMatcher = matches_target,
        known: Iterable[Observation] = (),
        target: Target | None = None,
        test_flake_rates: Mapping[str, float] | None = None,
        prior_hint: PriorHint | None = None,
        builds_before: int = 0,
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
        self._target = target
        self._test_flake_rates = dict(test_flake_rates or {})
        if prior_hint is not None and len(prior_hint.weights) != len(self._commits) - 1:
            raise InvalidInputError(
                f"prior hint has {len(prior_hint.weights)} weights for "
                f"{len(self._commits) - 1} candidate commits"
            )
        self._prior_hint = prior_hint
        if builds_before < 0:
            raise InvalidInputError(f"builds_before must be >= 0: got {builds_before}")
        self._builds_before = builds_before
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
        self._target_keys: tuple[str, ...] = target.keys if target else ()
        self._reasons: dict[int, list[str]] = {}
        self._error_signatures: dict[int, list[str | None]] = {}
        self._specific: dict[int, str] = {}
        self._built: set[int] = set()
        self._runs: list[tuple[int, ProbeTests]] = []
        self._matches: dict[str | None, bool] = {}
        self._skips: list[bool] = []
        self._reprobe = False
        self._known: list[Observation] = []
        self._recorded: list[Observation] = []
        self._builds = 0
        self._decision: _Decision | None = None
        for observation in known:
            self._check(observation)
            self._known.append(observation)
            self._add(observation)

    @classmethod
    def replay(
        cls,
        commits: Sequence[str],
        *,
        target_signature: str | None,
        settings: BisectSettings = BisectSettings(),
        signature_match: TargetMatcher = matches_target,
        known: Iterable[Observation] = (),
        observations: Iterable[Observation] = (),
        target: Target | None = None,
        test_flake_rates: Mapping[str, float] | None = None,
        prior_hint: PriorHint | None = None,
        builds_before: int = 0,
    ) -> BisectSearch:
        """Rebuild a search from the observations it recorded (``result().observations`` or
        ``.observations``), e.g. to resume after a crash."""
        search = cls(
            commits,
            target_signature=target_signature,
            settings=settings,
            signature_match=signature_match,
            known=known,
            target=target,
            test_flake_rates=test_flake_rates,
            prior_hint=prior_hint,
            builds_before=builds_before,
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
            "target": self._target.to_dict() if self._target else None,
            "test_flake_rates": dict(self._test_flake_rates),
            "prior_hint": self._prior_hint.snapshot() if self._prior_hint else None,
            "builds_before": self._builds_before,
        }

    @classmethod
    def from_snapshot(
        cls, snapshot: dict[str, Any], *, signature_match: TargetMatcher = matches_target
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
                target=Target.from_dict(snapshot["target"]) if snapshot.get("target") else None,
                test_flake_rates=snapshot.get("test_flake_rates") or {},
                prior_hint=PriorHint.from_snapshot(snapshot["prior_hint"])
                if snapshot.get("prior_hint")
                else None,
                builds_before=int(snapshot.get("builds_before", 0)),
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
        """Builds run so far: ``builds_before`` and the executed probes (known and cached
        observations are free)."""
        return self._builds_before + self._builds

    @property
    def target_tests(self) -> tuple[str, ...]:
        """The target keys the verdicts use now (see the class docstring)."""
        self._decide()
        return self._target_keys

    def commit_specific_errors(self) -> dict[str, str]:
        """Commits whose error reproduced while other commits built: untestable, not to be
        retried as infrastructure errors again (commit -> error)."""
        self._decide()
        found = {}
        for position in range(len(self._commits)):
            error = self._commit_specific(position)
            if error:
                found[self._commits[position]] = error
        return found

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
        self._check(observation)
        self._recorded.append(observation)
        if not observation.cached:
            self._builds += 1
        self._add(observation)
        self._decision = None

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

    def _check(self, observation: Observation) -> None:
        if not isinstance(observation, Observation):
            raise InvalidInputError(f"expected an Observation, got {observation!r}")
        if observation.commit not in self._positions:
            raise InvalidInputError(
                f"observation for commit {observation.commit!r}, which is not in the bisected range"
            )

    def _retally(self) -> None:
        """Tallies from every observation, under the current effective target."""
        observations = [*self._known, *self._recorded]
        if self._target is not None:
            self._target_keys = effective_target(self._target, self._runs, self._test_flake_rates)
        self._tallies = {position: CommitTally() for position in range(len(self._commits))}
        self._reasons = {}
        self._error_signatures = {}
        self._built = set()
        for observation in observations:
            self._tally(observation)
        self._find_commit_specific_errors()

    def _add(self, observation: Observation) -> None:
        """Tally one more observation; when it narrows the effective target, every verdict
        changes and all observations are tallied again."""
        if (
            self._target is not None
            and observation.tests is not None
            and observation.outcome is not ProbeOutcome.ERROR
        ):
            self._runs.append((self._positions[observation.commit], observation.tests))
            keys = effective_target(self._target, self._runs, self._test_flake_rates)
            if keys != self._target_keys:
                self._retally()
                return
        self._tally(observation)
        self._find_commit_specific_errors()

    def _find_commit_specific_errors(self) -> None:
        self._specific = {}
        for position, errors in self._error_signatures.items():
            others_built = bool(self._built - {position})
            error = commit_specific_error(errors, others_built)
            if error:
                self._specific[position] = error

    def _tally(self, observation: Observation) -> None:
        position = self._positions[observation.commit]
        tally = self._tallies[position]
        if not observation.cached:
            tally.seconds += observation.duration_s
        if observation.outcome is ProbeOutcome.ERROR:
            tally.errors += 1
            self._error_signatures.setdefault(position, []).append(observation.signature)
            return
        self._built.add(position)
        tests = observation.tests
        if self._target is not None and tests is not None:
            verdict = tests.verdict(self._target_keys)
            if verdict is Verdict.BAD:
                tally.target_failures += 1
            elif verdict is Verdict.GOOD:
                tally.passes += 1
            else:
                if tests.may_be_flaky:
                    tally.flaky_untestable += 1
                else:
                    tally.other_failures += 1
                self._reasons.setdefault(position, []).append(
                    tests.blocked_by or observation.signature or "target tests did not run"
                )
        elif observation.outcome is ProbeOutcome.PASSED:
            tally.passes += 1
        elif self._is_target_signature(observation.signature):
            tally.target_failures += 1
        else:
            tally.other_failures += 1
            self._reasons.setdefault(position, []).append(
                observation.signature or "unrecognised failure"
            )

    def _is_target_signature(self, signature: str | None) -> bool:
        known = self._matches.get(signature)
        if known is None:
            known = self._matches[signature] = self._signature_match(
                self._target_signature, signature
            )
        return known

    def _commit_specific(self, position: int) -> str | None:
        return self._specific.get(position)

    def _over_time(self, position: int) -> bool:
        limit = self._settings.max_commit_seconds
        return limit is not None and self._tallies[position].seconds >= limit

    def _skipped(self, position: int) -> bool:
        return self._skips[position]

    def _all_skipped(self) -> list[bool]:
        retries = self._settings.error_retries
        reprobes = self._settings.untestable_reprobes
        limit = self._settings.max_commit_seconds
        skips = []
        for position in range(len(self._commits)):
            tally = self._tallies[position]
            over_time = limit is not None and tally.seconds >= limit
            if tally.other_failures or tally.errors > retries or over_time:
                skips.append(True)
            elif tally.flaky_untestable and not (tally.target_failures or tally.passes):
                skips.append(not self._reprobe or tally.flaky_untestable > reprobes)
            else:
                skips.append(False)
        return skips

    def _untestable_reason(self, position: int) -> str:
        specific = self._commit_specific(position)
        if specific:
            return specific
        reasons = self._reasons.get(position)
        if reasons:
            return shared_reason(reasons)
        if self._over_time(position):
            return f"over {self._settings.max_commit_seconds:g}s of builds"
        return "repeated infrastructure errors"

    def _untestable_windows(self) -> list[UntestableWindow]:
        probed = [
            (p, self._untestable_reason(p) if self._skipped(p) else None)
            for p in range(1, len(self._commits))
            if self._tallies[p].probed
        ]
        return [
            UntestableWindow(
                first=self._commits[first],
                last=self._commits[last],
                probed=len(reasons),
                reason=shared_reason(reasons),
            )
            for first, last, reasons in windows(probed)
        ]

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
            self._reprobe = False
            decision = self._make_decision()
            if self._blocked(decision):
                # A test failure is never final: probe such commits again before giving up.
                self._reprobe = True
                decision = self._make_decision()
            self._decision = decision
        return self._decision

    def _blocked(self, decision: _Decision) -> bool:
        """Whether the search stopped short although a commit untestable only because another
        test failed could still be probed again."""
        if decision.result is None or decision.result.status is not BisectStatus.INCONCLUSIVE:
            return False
        if self._builds >= self._budget:
            return False
        limit = self._settings.untestable_reprobes
        return any(
            0 < tally.flaky_untestable <= limit and not tally.informative
            for tally in self._tallies.values()
        )

    def _edge_probes(self, budget_left: int) -> list[int]:
        """When probes keep landing in commits that cannot test the target, the commits next
        to the last good result and next to the first bad one (not more of the window's
        inside): untestable windows often start or end right at the breakage."""
        tallies = self._tallies
        first_bad = next(
            (p for p in range(1, len(self._commits)) if tallies[p].target_failures), None
        )
        if first_bad is None:
            return []
        last_good = max((p for p in range(first_bad) if tallies[p].passes), default=0)
        inside = [
            p for p in range(last_good + 1, first_bad) if tallies[p].probed and self._skipped(p)
        ]
        if len(inside) < 2 or 2 * (max(inside) - min(inside) + 1) < first_bad - last_good - 1:
            return []
        edges = [
            p
            for p in dict.fromkeys((last_good + 1, first_bad - 1))
            if last_good < p < first_bad and not tallies[p].probed and not self._skipped(p)
        ]
        return edges[: min(self._settings.parallel, budget_left)]

    def _away_from_untestable(self, probeable: list[bool]) -> list[bool]:
        """Gallop out of untestable windows: with ``k`` untestable probes among the suspects,
        skip commits within ``2 ** (k - 1)`` of them (they are likely untestable too), as long
        as anything else is left to probe."""
        tallies = self._tallies
        first_bad = next(
            (p for p in range(1, len(self._commits)) if tallies[p].target_failures),
            len(self._commits),
        )
        last_good = max((p for p in range(first_bad) if tallies[p].passes), default=0)
        inside = [
            p for p in range(last_good + 1, first_bad) if tallies[p].probed and self._skipped(p)
        ]
        if not inside:
            return probeable
        reach = 2 ** (len(inside) - 1)
        near: set[int] = set()
        for position in inside:
            near.update(range(position - reach, position + reach + 1))
        away = [ok and p not in near for p, ok in enumerate(probeable)]
        return away if any(away[last_good + 1 : first_bad]) else probeable

    def _make_decision(self) -> _Decision:
        settings = self._settings
        self._skips = self._all_skipped()
        weights = self._prior_hint.weights if self._prior_hint else None
        model = self._model
        if len(self._target_keys) > 1 and model.flake_prior < MULTI_TEST_FLAKE_PRIOR:
            # Several target tests failed together at the bad commit: any but one of them may
            # have flaked there, and their failures elsewhere are as suspect as a flaky test's.
            model = replace(model, flake_prior=MULTI_TEST_FLAKE_PRIOR)
        posterior = compute_posterior(self._tallies, self.candidates, model, weights)
        budget_left = self._budget - self._builds
        top = max(self._blocks(posterior), key=lambda block: block.mass)
        if top.mass >= settings.confidence:
            if top.hi - top.lo > 1:
                return _Decision(posterior, result=self._window_result(posterior, top))
            return self._localized(posterior, top.hi, budget_left)
        if budget_left <= 0:
            return _Decision(posterior, result=self._budget_result(posterior))
        edges = self._edge_probes(budget_left)
        if edges:
            return _Decision(posterior, probes=edges)
        probeable = self._away_from_untestable(
            [not self._skipped(p) for p in range(len(self._commits))]
        )
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
            anchor_slack=ANCHOR_SLACK if self._prior_hint is not None else 0.0,
        )
        if not probes:
            reason = (
                "no testable commit can split the remaining suspects any further "
                f"(untestable: {self._describe_skipped()})"
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
                f"p={_percent(probability)} after {self.builds} builds "
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
        found = self._untestable_windows()
        if not found:
            return "none"
        return "; ".join(window.describe() for window in found)

    def _window_result(self, posterior: Posterior, block: _Block) -> BisectResult:
        first = self._commits[block.lo + 1]
        last_position = min(block.hi, self.candidates)
        last = self._commits[last_position]
        inside = [
            window
            for window in self._untestable_windows()
            if block.lo < self._positions[window.first] <= last_position
        ]
        beyond = " or no culprit at all" if block.hi == self.candidates + 1 else ""
        reason = (
            f"the breakage lies in {_short(first)}..{_short(last)}{beyond} "
            f"(p={_percent(block.mass)}) but cannot be narrowed further: "
            + "; ".join(window.describe() for window in inside)
            + f"; after {self.builds} builds"
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
            builds=self.builds,
            observations=list(self._recorded),
            flake_rate=posterior.flake_rate,
            reason=reason,
            **self._extras(),
        )

    def _extras(self) -> dict[str, Any]:
        return {
            "target_tests": list(self._target_keys),
            "prior_hint": self._prior_hint.to_dict() if self._prior_hint else None,
            "untestable_windows": self._untestable_windows(),
        }

    def _budget_result(self, posterior: Posterior) -> BisectResult:
        suspects = self._top_suspects(posterior)
        top = f"top suspect {_short(suspects[0][0])} (p={_percent(suspects[0][1])})"
        windows_note = "; ".join(w.describe() for w in self._untestable_windows())
        reason = (
            f"build budget of {self._budget} spent; {top} is below the required "
            f"{self._settings.confidence} confidence or unverified; after {self.builds} builds"
            + (f"; {windows_note}" if windows_note else "")
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
            builds=self.builds,
            observations=list(self._recorded),
            flake_rate=posterior.flake_rate,
            reason=reason,
            **self._extras(),
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
