"""What a bisection starts from: its range, the recorded evidence it may reuse, and the failure
it looks for; and where the monitor's automatic bisection of a new failure starts."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from build_monitor.bisection.flake_history import FlakeEvidence, learned_flake_prior
from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.settings import BisectSettings
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
    good: str, bad: str, candidates: Sequence[str], known: Sequence[Observation]
) -> BisectPlan:
    """The plan for `good..bad`; its target is the bad commit's last recorded failure."""
    bad_failures = [o for o in known if o.commit == bad and o.outcome is ProbeOutcome.FAILED]
    target = bad_failures[-1].signature if bad_failures else None
    return BisectPlan(good, bad, [good, *candidates], list(known), target)


def with_bad_commit_probe(plan: BisectPlan, observation: Observation) -> BisectPlan:
    """The plan after building the bad commit once to learn its failure (no target when it
    passed: nothing to bisect)."""
    if observation.outcome is ProbeOutcome.ERROR:
        raise InfrastructureError(
            f"cannot build {plan.bad[:10]} to learn its failure: {observation.signature}"
        )
    known = [*plan.known, dataclasses.replace(observation, cached=True)]
    signature = observation.signature if observation.outcome is ProbeOutcome.FAILED else None
    return dataclasses.replace(plan, known=known, target_signature=signature, builds_before=1)


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
