"""What a bisection concluded."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from build_monitor.bisection.observation import Observation


class BisectStatus(StrEnum):
    """``confirmed``: culprit found and verified. ``inconclusive``: no commit can be named with
    confidence (see ``suspects``). ``unverified``: culprit found with ``verify=False``.
    ``no_culprit``: the bad commit's failure was itself a flake."""

    CONFIRMED = "confirmed"
    INCONCLUSIVE = "inconclusive"
    UNVERIFIED = "unverified"
    NO_CULPRIT = "no_culprit"


@dataclass(frozen=True)
class UntestableWindow:
    """Commits ``first``..``last`` (oldest first) that could not test the target, as far as the
    probes show: ``probed`` of them were built, all untestable, for the shared ``reason``
    (e.g. ``dependency resolution failed`` or ``error[E0432] in src/x.rs``)."""

    first: str
    last: str
    probed: int
    reason: str

    def describe(self) -> str:
        span = (
            self.first[:10] if self.first == self.last else f"{self.first[:10]}..{self.last[:10]}"
        )
        return f"{span} cannot test it ({self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "probed": self.probed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class BisectResult:
    """Outcome of a bisection.

    ``culprit`` is set only for ``confirmed`` and ``unverified``; ``confidence`` is the posterior
    probability of the culprit (of "no culprit" for ``no_culprit``, of the top suspect otherwise).
    ``suspects`` lists the most likely commits, or the whole window when the breakage hides in
    untestable commits. ``builds`` counts the builds actually run in this bisection (the
    search's probes plus ``builds_before`` it was told of), the number its ``reason`` quotes;
    ``observations`` are the probes recorded during this search (``known`` ones excluded).
    ``target_tests`` are the tests (or compile errors) the verdicts used; ``prior_hint`` the files
    the failure named and the share of prior mass their commits got; ``untestable_windows`` the
    runs of probed commits that could not test the target.
    """

    status: BisectStatus
    culprit: str | None
    confidence: float
    suspects: list[tuple[str, float]]
    builds: int
    observations: list[Observation]
    flake_rate: float
    reason: str
    target_tests: list[str] = field(default_factory=list)
    prior_hint: dict[str, Any] | None = None
    untestable_windows: list[UntestableWindow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for Prefect results and the database)."""
        return {
            "status": self.status.value,
            "culprit": self.culprit,
            "confidence": self.confidence,
            "suspects": [[commit, probability] for commit, probability in self.suspects],
            "builds": self.builds,
            "observations": [observation.to_dict() for observation in self.observations],
            "flake_rate": self.flake_rate,
            "reason": self.reason,
            "target_tests": list(self.target_tests),
            "prior_hint": self.prior_hint,
            "untestable_windows": [window.to_dict() for window in self.untestable_windows],
        }
