"""What one build-and-test probe of one commit told us."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from build_monitor.bisection.target import ProbeTests
from build_monitor.errors import InvalidInputError


class ProbeOutcome(StrEnum):
    """Result of building and testing one commit.

    ``failed`` carries a signature (the normalized failure message); ``error`` means the
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
    execution or flake estimates become meaningless. ``tests`` is the test-level evidence of a
    libtest run (see :mod:`build_monitor.bisection.target`); without it the search compares
    ``signature`` with the target signature, as for custom test commands.
    """

    commit: str
    outcome: ProbeOutcome
    signature: str | None = None
    duration_s: float = 0.0
    cached: bool = False
    tests: ProbeTests | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.commit, str) or not self.commit:
            raise InvalidInputError(f"observation commit must be a non-empty string: {self!r}")
        try:
            outcome = ProbeOutcome(self.outcome)
        except ValueError:
            allowed = ", ".join(o.value for o in ProbeOutcome)
            raise InvalidInputError(
                f"observation outcome {self.outcome!r} is not one of: {allowed}"
            ) from None
        object.__setattr__(self, "outcome", outcome)
        if self.tests is not None and not isinstance(self.tests, ProbeTests):
            raise InvalidInputError(f"observation tests must be ProbeTests: {self!r}")
        if self.duration_s < 0:
            raise InvalidInputError(f"observation duration must be >= 0: {self!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, the inverse of :meth:`from_dict` (``tests`` only when known)."""
        data: dict[str, Any] = {
            "commit": self.commit,
            "outcome": self.outcome.value,
            "signature": self.signature,
            "duration_s": self.duration_s,
            "cached": self.cached,
        }
        if self.tests is not None:
            data["tests"] = self.tests.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        """Rebuild an observation saved by :meth:`to_dict`."""
        try:
            return cls(
                commit=data["commit"],
                outcome=ProbeOutcome(data["outcome"]),
                signature=data.get("signature"),
                duration_s=float(data.get("duration_s", 0.0)),
                cached=bool(data.get("cached", False)),
                tests=ProbeTests.from_dict(data["tests"]) if data.get("tests") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid saved observation {data!r}: {exc}") from None
