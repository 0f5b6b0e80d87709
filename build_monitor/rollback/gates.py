"""The gates an automatic or manual rollback passes before it may change anything (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_TRUE_WORDS = frozenset({"1", "true", "yes", "on", "disabled", "stop"})


@dataclass(frozen=True)
class GateInput:
    automatic: bool
    now: datetime
    # Why the kill switch is on ("file ... exists"), or None when it is off.
    kill_switch: str | None = None
    automatic_today: int = 0
    max_auto_per_day: int = 3
    culprit: str | None = None
    culprit_committed_at: datetime | None = None
    max_culprit_age: timedelta = timedelta(hours=72)
    # True/False once known; None when the target still has to be built and verified.
    target_passes: bool | None = None
    target_failure: str | None = None
    # An automatic rollback of this culprit that already ran ("#12 succeeded").
    already_rolled_back: str | None = None


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    verdicts: tuple[GateVerdict, ...]

    @property
    def allowed(self) -> bool:
        return all(verdict.passed for verdict in self.verdicts)

    @property
    def refusal(self) -> str | None:
        failed = [v for v in self.verdicts if not v.passed]
        return f"{failed[0].gate}: {failed[0].detail}" if failed else None


def decide(facts: GateInput) -> Decision:
    """Every gate's verdict; the kill switch, the daily limit, the culprit age and the no-loop
    gate apply to automatic rollbacks only; a passing target is required of every rollback."""
    verdicts: list[GateVerdict] = []
    if facts.automatic:
        verdicts += [
            _kill_switch(facts),
            _no_loop(facts),
            _daily_limit(facts),
            _culprit_age(facts),
        ]
    verdicts.append(_target_passes(facts))
    return Decision(tuple(verdicts))


def _kill_switch(facts: GateInput) -> GateVerdict:
    if facts.kill_switch:
        return GateVerdict(
            "kill_switch", False, f"automatic rollbacks are off ({facts.kill_switch})"
        )
    return GateVerdict("kill_switch", True, "off")


def _no_loop(facts: GateInput) -> GateVerdict:
    if facts.already_rolled_back:
        return GateVerdict(
            "no_loop",
            False,
            f"culprit {(facts.culprit or '?')[:10]} was already rolled back automatically "
            f"({facts.already_rolled_back}); run a manual rollback if it is still needed",
        )
    return GateVerdict("no_loop", True, "first automatic rollback of this culprit")


def _daily_limit(facts: GateInput) -> GateVerdict:
    used, limit = facts.automatic_today, facts.max_auto_per_day
    if used >= limit:
        return GateVerdict(
            "daily_limit", False, f"{used} automatic rollbacks in the last 24 h (limit {limit})"
        )
    return GateVerdict("daily_limit", True, f"{used} of {limit} used in the last 24 h")


def _culprit_age(facts: GateInput) -> GateVerdict:
    if facts.culprit_committed_at is None:
        return GateVerdict("culprit_age", True, "culprit date unknown: not checked")
    age = facts.now - facts.culprit_committed_at
    limit_text = format_age(facts.max_culprit_age)
    if age > facts.max_culprit_age:
        return GateVerdict(
            "culprit_age",
            False,
            f"the culprit is {format_age(age)} old, older than the {limit_text} limit",
        )
    return GateVerdict("culprit_age", True, f"{format_age(age)} old (limit {limit_text})")


def _target_passes(facts: GateInput) -> GateVerdict:
    if facts.target_passes is None:
        return GateVerdict("target_passes", True, "no build recorded: built and verified first")
    if facts.target_passes:
        return GateVerdict("target_passes", True, "the target has a passing build")
    detail = "the target commit does not pass"
    return GateVerdict(
        "target_passes",
        False,
        f"{detail}: {facts.target_failure}" if facts.target_failure else detail,
    )


def format_age(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.1f} h"


def kill_switch_value_is_on(value: object) -> bool:
    """A Prefect variable's value read as the kill switch (true, "1", "yes", "on", ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in _TRUE_WORDS
