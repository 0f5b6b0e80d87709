"""Bisection test helpers: scripted probes, and a terminal summary of measured accuracy/cost."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import pytest

from build_monitor.bisection import Observation, ProbeOutcome
from build_monitor.bisection.simulation import commit_names

MEASUREMENTS: list[str] = []

TARGET = "thread 'api::tests::health' panicked at src/api.rs:40:9: status 500"
OTHER = "error[E0432]: unresolved import `crate::cache` --> src/cache.rs:3:5"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASUREMENTS:
        terminalreporter.section("bisection measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


def passed(commit: str) -> Observation:
    return Observation(commit, ProbeOutcome.PASSED)


def failed(commit: str, signature: str = TARGET) -> Observation:
    return Observation(commit, ProbeOutcome.FAILED, signature)


def errored(commit: str) -> Observation:
    return Observation(commit, ProbeOutcome.ERROR, "docker daemon not responding")


class ScriptedProbe:
    """Answers each commit from its own queue of outcomes ("pass", "fail", "other", "error");
    the last outcome repeats. Records every commit asked for."""

    def __init__(self, script: dict[str, Iterable[str]], default: str = "pass") -> None:
        self.queues = {commit: deque(outcomes) for commit, outcomes in script.items()}
        self.default = default
        self.asked: list[str] = []

    def outcome(self, commit: str) -> str:
        queue = self.queues.get(commit)
        if not queue:
            return self.default
        return queue.popleft() if len(queue) > 1 else queue[0]

    def __call__(self, commits: list[str]) -> list[Observation]:
        self.asked.extend(commits)
        makers = {"pass": passed, "fail": failed, "other": lambda c: failed(c, OTHER)}
        return [
            errored(commit) if (kind := self.outcome(commit)) == "error" else makers[kind](commit)
            for commit in commits
        ]


def broken_from(commits: tuple[str, ...], culprit: int, **overrides: list[str]) -> ScriptedProbe:
    """Deterministic history: commits from ``culprit`` on fail with the target signature."""
    script: dict[str, Iterable[str]] = {
        commit: ["fail"] for position, commit in enumerate(commits) if position >= culprit
    }
    script.update(overrides)
    return ScriptedProbe(script)


@pytest.fixture
def commits() -> Iterator[tuple[str, ...]]:
    """33 commits: good + 32 suspects."""
    yield commit_names(33)
