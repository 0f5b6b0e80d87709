"""What a bisection concluded."""

from __future__ import annotations

from dataclasses import dataclass
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
class BisectResult:
    """Outcome of a bisection.

    ``culprit`` is set only for ``confirmed`` and ``unverified``; ``confidence`` is the posterior
    probability of the culprit (of "no culprit" for ``no_culprit``, of the top suspect otherwise).
    ``suspects`` lists the most likely commits, or the whole window when the breakage hides in
    untestable commits. ``builds`` counts executed (non-cached) probes; ``observations`` are the
    probes recorded during this search (``known`` ones excluded).
    """

    status: BisectStatus
    culprit: str | None
    confidence: float
    suspects: list[tuple[str, float]]
    builds: int
    observations: list[Observation]
    flake_rate: float
    reason: str

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
        }
