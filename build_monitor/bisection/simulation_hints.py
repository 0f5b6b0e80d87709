"""Simulated histories with diffs, for the hinted prior: every commit touches a few files of a
small crate; the failure names one of them. When the hint is right the culprit touches the
named file; when it is wrong it does not (and other commits do)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from build_monitor.bisection.hints import hint_prior
from build_monitor.bisection.result import BisectResult
from build_monitor.bisection.search import BisectSearch, run_search
from build_monitor.bisection.settings import BisectSettings
from build_monitor.bisection.simulation import SimulatedHistory, SimulatedProber, commit_names

NAMED_FILE = "src/net.rs"
MODULES = (
    "api cache config db http io json log math model parse queue retry route store sync task "
    "time user util view"
)
SOURCE_FILES = (
    NAMED_FILE,
    *(f"src/{name}.rs" for name in MODULES.split(" ")),
    "README.md",
    "Cargo.toml",
)
# Share of commits (other than the culprit) that touch the named file.
NAMED_FILE_RATE = 0.04


@dataclass(frozen=True)
class HintedHistory:
    history: SimulatedHistory
    touched: tuple[tuple[str, ...], ...]  # per suspect commit (positions 1..n)
    hint_right: bool


def generate_hinted_history(
    candidates: int, rng: random.Random, *, hint_right: bool
) -> HintedHistory:
    """A deterministic history whose culprit touches :data:`NAMED_FILE` exactly when
    ``hint_right``; other commits touch it with probability :data:`NAMED_FILE_RATE`."""
    culprit = rng.randint(1, candidates)
    others = SOURCE_FILES[1:]
    touched = []
    for position in range(1, candidates + 1):
        files = set(rng.sample(others, rng.randint(1, 3)))
        names_file = rng.random() < NAMED_FILE_RATE
        if position == culprit:
            names_file = hint_right
        if names_file:
            files.add(NAMED_FILE)
        touched.append(tuple(sorted(files)))
    history = SimulatedHistory(commits=commit_names(candidates + 1), culprit=culprit)
    return HintedHistory(history=history, touched=tuple(touched), hint_right=hint_right)


def run_hinted_search(
    hinted: HintedHistory, settings: BisectSettings, rng: random.Random, *, use_hint: bool = True
) -> BisectResult:
    """Bisect with the prior from :data:`NAMED_FILE` (or, ``use_hint=False``, uniform)."""
    history = hinted.history
    prior = hint_prior([NAMED_FILE], hinted.touched) if use_hint else None
    search = BisectSearch(
        history.commits,
        target_signature=history.target_signature,
        settings=settings,
        known=[history.known_bad_observation()],
        prior_hint=prior,
    )
    return run_search(search, SimulatedProber(history, rng))
