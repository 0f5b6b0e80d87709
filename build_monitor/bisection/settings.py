"""Tuning knobs of a flake-aware bisection."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from build_monitor.errors import InvalidInputError


@dataclass(frozen=True)
class BisectSettings:
    """Settings of one bisection.

    - ``confidence``: posterior probability the top suspect must reach before it is verified.
    - ``max_builds``: build budget (known and cached observations are free); ``None`` means
      :meth:`build_budget` derives one from the range length.
    - ``flake_prior``: prior probability that the target test fails at a good commit; pass the
      test's historical flake rate when the monitor knows it. ``flake_prior_weight`` is how many
      runs that prior is worth against the reruns observed during the search.
    - ``false_pass_rate``: probability that a broken commit passes anyway (default: never).
    - ``no_culprit_prior``: prior probability that the range holds no culprit at all (the red
      result was a flake).
    - ``parallel``: probes per round; ``k`` probes split the probability mass into ``k + 1`` parts.
    - ``error_retries``: how many times an ``error`` probe is retried before the commit is
      skipped.
    - ``verify``: require the culprit's failure to reproduce and its parent to pass.
    - ``max_suspects``: how many suspects a result lists (an untestable window is listed whole).
    - ``untestable_reprobes``: how many times a commit whose target tests were kept from running
      by a test failure (which may be a flake) is probed again when it blocks narrowing.
    - ``max_commit_seconds``: total build time the bisection may spend on one commit before it
      counts as untestable (``None``: no bound).
    """

    confidence: float = 0.99
    max_builds: int | None = None
    flake_prior: float = 0.01
    flake_prior_weight: float = 2.0
    false_pass_rate: float = 0.0
    no_culprit_prior: float = 0.1
    parallel: int = 1
    error_retries: int = 1
    verify: bool = True
    max_suspects: int = 5
    untestable_reprobes: int = 2
    max_commit_seconds: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if not 0.5 <= self.confidence < 1.0:
            problems.append(f"confidence must be in [0.5, 1): got {self.confidence}")
        if self.max_builds is not None and self.max_builds < 1:
            problems.append(f"max_builds must be >= 1: got {self.max_builds}")
        if not 0.0 <= self.flake_prior < 0.5:
            problems.append(f"flake_prior must be in [0, 0.5): got {self.flake_prior}")
        if self.flake_prior_weight <= 0:
            problems.append(f"flake_prior_weight must be > 0: got {self.flake_prior_weight}")
        if not 0.0 <= self.false_pass_rate < 0.5:
            problems.append(f"false_pass_rate must be in [0, 0.5): got {self.false_pass_rate}")
        if not 0.0 < self.no_culprit_prior < 1.0:
            problems.append(f"no_culprit_prior must be in (0, 1): got {self.no_culprit_prior}")
        if self.parallel < 1:
            problems.append(f"parallel must be >= 1: got {self.parallel}")
        if self.error_retries < 0:
            problems.append(f"error_retries must be >= 0: got {self.error_retries}")
        if self.max_suspects < 1:
            problems.append(f"max_suspects must be >= 1: got {self.max_suspects}")
        if self.untestable_reprobes < 0:
            problems.append(f"untestable_reprobes must be >= 0: got {self.untestable_reprobes}")
        if self.max_commit_seconds is not None and self.max_commit_seconds <= 0:
            problems.append(f"max_commit_seconds must be > 0: got {self.max_commit_seconds}")
        if problems:
            raise InvalidInputError("invalid bisect settings: " + "; ".join(problems))

    def build_budget(self, candidates: int) -> int:
        """``max_builds``, or a default of ``4 * ceil(log2(candidates + 1)) + 8`` builds (40 for
        128 candidates), scaled by ``(parallel + 1) / 2`` because parallel rounds buy wall-clock
        time with extra builds: enough for a flaky search, bounded for a hopeless one."""
        if self.max_builds is not None:
            return self.max_builds
        sequential = 4 * math.ceil(math.log2(candidates + 1)) + 8
        return math.ceil(sequential * (self.parallel + 1) / 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, the inverse of :meth:`from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BisectSettings:
        """Rebuild settings saved by :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"unknown bisect settings: {', '.join(unknown)}")
        return cls(**data)
