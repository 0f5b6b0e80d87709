"""The JSON shape of a checked commit, shared by flows, CLI and API (a contract: extend only)."""

from __future__ import annotations

from pydantic import BaseModel

from build_monitor.history.models import Build


class BuildReport(BaseModel):
    service: str
    commit: str
    short: str
    author: str
    subject: str
    status: str
    stage: str | None
    signature: str | None
    duration_s: float | None
    image: str | None
    builder: str
    attempts: int
    build_id: int | None
    flow_run_id: str | None
    log_excerpt: str | None

    @classmethod
    def from_build(cls, build: Build) -> BuildReport:
        return cls(
            service=build.service,
            commit=build.commit,
            short=build.commit[:10],
            author=build.author,
            subject=build.subject,
            status=build.status.value,
            stage=build.stage.value if build.stage else None,
            signature=build.signature,
            duration_s=build.duration_s,
            image=build.image,
            builder=build.builder,
            attempts=build.attempts,
            build_id=build.id,
            flow_run_id=build.flow_run_id,
            log_excerpt=build.log_excerpt,
        )
