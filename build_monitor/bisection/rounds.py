"""What travels between the bisect flow, its round subflows and the probe task: typed models,
validated at each Prefect boundary."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.search import BisectSearch
from build_monitor.bisection.settings import BisectSettings


class ProbeResult(BaseModel):
    """One probe: what it told the search, and the failing log's excerpt for the report."""

    model_config = ConfigDict(frozen=True)

    observation: Observation
    log_excerpt: str | None = None

    @property
    def commit(self) -> str:
        return self.observation.commit

    @property
    def outcome(self) -> ProbeOutcome:
        return self.observation.outcome


class BisectContext(BaseModel):
    """What every round needs, unchanged from round to round."""

    model_config = ConfigDict(frozen=True)

    service: str
    config_path: str | None
    mirror: str
    bisection_id: int
    commits: list[str]
    target_signature: str
    settings: BisectSettings
    known: list[Observation]
    # Builds run before the search (the bad commit's first build): one count of builds.
    builds_before: int = 0

    def search(self, probes: Sequence[ProbeResult]) -> BisectSearch:
        """The search replayed over the probes run so far."""
        return BisectSearch.replay(
            self.commits,
            target_signature=self.target_signature,
            settings=self.settings,
            known=self.known,
            observations=[probe.observation for probe in probes],
            builds_before=self.builds_before,
        )

    def round_name(self, round_number: int) -> str:
        return (
            f"bisect {self.service} {self.commits[0][:6]}..{self.commits[-1][:6]} "
            f"round {round_number}"
        )


def latest_log_excerpt(probes: Sequence[ProbeResult], commit: str) -> str | None:
    """The newest probe's log excerpt for `commit`, if any probe of it kept one."""
    return next(
        (p.log_excerpt for p in reversed(probes) if p.commit == commit and p.log_excerpt), None
    )
