"""What a bisection sends a `bisect-probe` deployment run: which probe of which commit to run.
Each worker fetches the service's repository itself, so no host path travels."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProbeRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    # The same config file must exist at this path on every worker host.
    config_path: str | None
    bisection_id: int
    # The probe's row in the history database (probe_claims): its identity across retries.
    probe_id: int
    commit: str = Field(min_length=4, max_length=64)
    keep_checked_out: list[str] = Field(default_factory=list)

    @property
    def run_name(self) -> str:
        return f"probe {self.service} {self.commit[:10]}"
