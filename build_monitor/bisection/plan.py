"""What a bisection starts from: its range, the recorded evidence it may reuse, and the failure
it looks for; and where the monitor's automatic bisection of a new failure starts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from build_monitor.bisection.flake_history import FlakeEvidence, learned_flake_prior
from build_monitor.bisection.flake_rates import target_flake_prior
from build_monitor.bisection.hints import PriorHint, crate_roots, failure_hints, hint_prior
from build_monitor.bisection.libtest import TestLog
from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.rounds import judge_observation
from build_monitor.bisection.search import BisectSearch
from build_monitor.bisection.settings import BisectSettings
from build_monitor.bisection.target import Target, find_target
from build_monitor.errors import InfrastructureError, InvalidInputError


@dataclass(frozen=True)
class BisectPlan:
    good: str
    bad: str
    # The good commit, then every candidate up to and including the bad one, oldest first.
    commits: list[str]
    known: list[Observation]
    target_signature: str | None
    # Builds run before the search (the bad commit, when no failure of it was recorded).
    builds_before: int = 0
    # The recorded test results of each `known` observation (None: none recorded), and the
    # test-level target found from them (None: bisect on the one failure signature).
    known_logs: list[TestLog | None] = field(default_factory=list)
    target: Target | None = None

    @property
    def candidates(self) -> int:
        return len(self.commits) - 1


def require_last_good(last_good: str | None, *, service: str, bad: str) -> str:
    """The default good commit: the last passing build before `bad`, which must exist."""
    if last_good is None:
        raise InvalidInputError(
            f"no passing build of {service} is recorded before {bad[:10]}: "
            "pass --good REF (a commit known to build and pass)"
        )
    return last_good


def require_ancestor(good: str, bad: str, *, good_is_ancestor: bool) -> None:
    if good == bad or not good_is_ancestor:
        raise InvalidInputError(f"good {good[:10]} is not an ancestor of bad {bad[:10]}")


def plan_bisection(
    good: str,
    bad: str,
    candidates: Sequence[str],
    known: Sequence[Observation],
    known_logs: Sequence[TestLog | None] | None = None,
) -> BisectPlan:
    """The plan for `good..bad`; its target is the bad commit's last recorded failure (at test
    level when its test results were recorded, see :func:`with_test_target`)."""
    logs: list[TestLog | None] = list(known_logs) if known_logs is not None else [None] * len(known)
    bad_failures = [o for o in known if o.commit == bad and o.outcome is ProbeOutcome.FAILED]
    signature = bad_failures[-1].signature if bad_failures else None
    plan = BisectPlan(good, bad, [good, *candidates], list(known), signature, known_logs=logs)
    return with_test_target(plan) if signature is not None else plan


def with_bad_commit_probe(
    plan: BisectPlan, observation: Observation, test_log: TestLog | None = None
) -> BisectPlan:
    """The plan after building the bad commit once to learn its failure (no target when it
    passed: nothing to bisect)."""
    if observation.outcome is ProbeOutcome.ERROR:
        raise InfrastructureError(
            f"cannot build {plan.bad[:10]} to learn its failure: {observation.signature}"
        )
    known = [*plan.known, dataclasses.replace(observation, cached=True)]
    signature = observation.signature if observation.outcome is ProbeOutcome.FAILED else None
    updated = dataclasses.replace(
        plan,
        known=known,
        known_logs=[*plan.known_logs, test_log],
        target_signature=signature,
        builds_before=1,
    )
    return with_test_target(updated) if signature is not None else updated


def _latest_log(plan: BisectPlan, commit: str, outcome: ProbeOutcome) -> TestLog | None:
    pairs = zip(plan.known, plan.known_logs, strict=True)
    found = [log for o, log in pairs if o.commit == commit and o.outcome is outcome and log]
    return found[-1] if found else None


def bad_test_log(plan: BisectPlan) -> TestLog | None:
    """The bad commit's latest failing test log, if its test results are known."""
    return _latest_log(plan, plan.bad, ProbeOutcome.FAILED)


def with_test_target(plan: BisectPlan) -> BisectPlan:
    """The plan with its test-level target: the tests (or compile errors) failing at the bad
    commit and not at the good one, and its known observations judged against it. Without
    libtest output at the bad commit the plan keeps the one-signature target."""
    bad_log = bad_test_log(plan)
    if bad_log is None:
        return plan
    # A failing run at the good commit names tests that flake there: not part of the target.
    good_log = _latest_log(plan, plan.good, ProbeOutcome.FAILED) or _latest_log(
        plan, plan.good, ProbeOutcome.PASSED
    )
    target = find_target(bad_log, good_log)
    if target is None:
        return plan
    known = [
        judge_observation(observation, log, target)
        for observation, log in zip(plan.known, plan.known_logs, strict=True)
    ]
    return dataclasses.replace(plan, known=known, target=target)


def with_test_flake_prior(
    settings: BisectSettings, target: Target | None, rates: Mapping[str, float]
) -> BisectSettings:
    """Raise the flake prior to the highest recorded flake rate of the target's tests."""
    if target is None or not rates:
        return settings
    prior = target_flake_prior(target, rates, default=settings.flake_prior)
    return dataclasses.replace(settings, flake_prior=prior)


def prior_from_hints(
    plan: BisectPlan,
    touched: Mapping[str, Sequence[str]],
    crate_directories: Mapping[str, str] | None = None,
) -> PriorHint | None:
    """The prior over suspects from the files the bad commit's failure names and the files each
    candidate commit touched (None: no hint, the prior stays uniform). ``crate_directories``
    (crate name -> package directory at the bad commit) places a workspace's test files."""
    bad_log = bad_test_log(plan)
    if bad_log is None or plan.target is None:
        return None
    directories = crate_directories or {}
    files = failure_hints(bad_log, plan.target, directories)
    per_commit = [tuple(touched.get(commit, ())) for commit in plan.commits[1:]]
    return hint_prior(files, per_commit, crate_roots=crate_roots(directories))


def first_round_midpoints(commits: Sequence[str], settings: BisectSettings) -> list[str]:
    """What the search would probe first beside the bad commit, when the bad commit has no
    recorded failure and rounds hold more than one probe: both go into the first round."""
    if settings.parallel < 2 or len(commits) < 3:
        return []
    assumed = "the failure the bad commit is about to show"
    provisional = BisectSearch(
        commits,
        target_signature=assumed,
        settings=dataclasses.replace(settings, parallel=settings.parallel - 1),
        known=[Observation(commits[-1], ProbeOutcome.FAILED, assumed, cached=True)],
    )
    return [commit for commit in provisional.next_probes() if commit != commits[-1]]


def with_learned_flake_prior(settings: BisectSettings, evidence: FlakeEvidence) -> BisectSettings:
    """Raise the default flake prior towards the rate earlier bisections of this failure saw."""
    if not evidence.runs:
        return settings
    prior = learned_flake_prior(
        evidence, prior=settings.flake_prior, prior_weight=settings.flake_prior_weight
    )
    return dataclasses.replace(settings, flake_prior=prior)


def first_failed_commit(commits: Sequence[str], recorded: Sequence[Observation], head: str) -> str:
    """Where the monitor's bisection of a new failure ends: the first commit after the last
    good one with a recorded failure, else the head."""
    failed = {o.commit for o in recorded if o.outcome is ProbeOutcome.FAILED}
    return next((sha for sha in commits if sha in failed), head)
