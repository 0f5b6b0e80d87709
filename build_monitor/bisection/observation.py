"""What one build-and-test probe of one commit told us."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from build_monitor.errors import InvalidInputError


class Outcome(StrEnum):
    """Result of building and testing one commit.

    ``failed`` carries a signature (the normalised failure message); ``error`` means the
    machinery failed (Docker down, OOM, network), which says nothing about the commit.
    """

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True)
class Observation:
    """One probe result for ``commit``.

    ``cached`` marks a result reused from an earlier build: it is evidence but does not count
    as a build. Never return a cached result for a *rerun*: a rerun must be a fresh, independent
    execution or flake estimates become meaningless.
    """

    commit: str
    outcome: Outcome
    signature: str | None = None
    duration_s: float = 0.0
    cached: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.commit, str) or not self.commit:
            raise InvalidInputError(f"observation commit must be a non-empty string: {self!r}")
        try:
            outcome = Outcome(self.outcome)
        except ValueError:
            allowed = ", ".join(o.value for o in Outcome)
            raise InvalidInputError(
                f"observation outcome {self.outcome!r} is not one of: {allowed}"
            ) from None
        object.__setattr__(self, "outcome", outcome)
        if self.duration_s < 0:
            raise InvalidInputError(f"observation duration must be >= 0: {self!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, the inverse of :meth:`from_dict`."""
        return {
            "commit": self.commit,
            "outcome": self.outcome.value,
            "signature": self.signature,
            "duration_s": self.duration_s,
            "cached": self.cached,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        """Rebuild an observation saved by :meth:`to_dict`."""
        try:
            return cls(
                commit=data["commit"],
                outcome=Outcome(data["outcome"]),
                signature=data.get("signature"),
                duration_s=float(data.get("duration_s", 0.0)),
                cached=bool(data.get("cached", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid saved observation {data!r}: {exc}") from None
