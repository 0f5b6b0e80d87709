"""What happened, as flows report it: a pure value every renderer and the router work from."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from build_monitor.notifications.config import EventName


def _now() -> datetime:
    return datetime.now(UTC)


def short_sha(commit: str | None) -> str:
    return commit[:8] if commit else "unknown"


class CulpritInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    commit: str
    author: str = ""
    subject: str = ""
    # The newest commit known good: what a rollback goes back to.
    last_good_commit: str | None = None
    builds_run: int | None = None


class RollbackInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    from_commit: str | None = None
    to_commit: str
    strategy: str | None = None
    reason: str | None = None
    error: str | None = None


class NotificationEvent(BaseModel):
    """One thing worth telling people about, for one service and (usually) one commit."""

    model_config = ConfigDict(frozen=True)

    event: EventName
    service: str
    commit: str | None = None
    author: str | None = None
    subject: str | None = None
    branch: str | None = None
    stage: str | None = None
    signature: str | None = None
    log_excerpt: str | None = None
    flow_run_id: str | None = None
    flow_run_url: str | None = None
    culprit: CulpritInfo | None = None
    # Commits a bisect could not tell apart (bisect_inconclusive).
    candidates: list[str] = Field(default_factory=list)
    rollback: RollbackInfo | None = None
    # Overrides the suggested next step every event type has by default.
    next_action: str | None = None
    # Distinguishes repeats that are genuinely new (a second rollback to the same commit).
    dedup_suffix: str | None = None
    occurred_at: datetime = Field(default_factory=_now)

    @property
    def short_sha(self) -> str:
        return short_sha(self.commit)

    @property
    def dedup_key(self) -> str:
        parts = [self.event, self.service, self.commit or "-"]
        if self.rollback is not None:
            parts.append(self.rollback.to_commit)
        if self.dedup_suffix:
            parts.append(self.dedup_suffix)
        return ":".join(parts)[:255]
