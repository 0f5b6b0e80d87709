"""SQLModel tables and their layered Base/Create/Public schemas (history database)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, TypeDecorator
from sqlmodel import Column, Field, SQLModel, Text, UniqueConstraint


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns timezone-aware datetimes, also on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(*, nullable: bool = False, default_now: bool = True) -> Any:
    if default_now:
        return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=nullable))
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class BuildStatus(StrEnum):
    running = "running"
    passed = "passed"
    failed = "failed"
    error = "error"
    interrupted = "interrupted"


class BuildStage(StrEnum):
    build = "build"
    test = "test"
    health = "health"


class ServiceState(StrEnum):
    healthy = "healthy"
    failing = "failing"
    unknown = "unknown"


# ---------------------------------------------------------------- services


class ServiceBase(SQLModel):
    name: str = Field(primary_key=True, max_length=63)
    repo: str
    branch: str
    state: ServiceState = ServiceState.unknown


class ServiceRecord(ServiceBase, table=True):
    __tablename__ = "services"

    updated_at: datetime = _timestamp()
    last_build_id: int | None = Field(default=None, foreign_key="builds.id")


class ServicePublic(ServiceBase):
    updated_at: datetime


# ---------------------------------------------------------------- builds


class BuildBase(SQLModel):
    service: str = Field(index=True, max_length=63)
    commit: str = Field(index=True, max_length=64)
    author: str = ""
    subject: str = ""
    builder: str = "docker"
    trigger: str = "check"
    # Hash of what decides a build's outcome besides the commit (builder, Dockerfile, args,
    # commands, health check): results are reusable only under the same key.
    config_key: str | None = Field(default=None, index=True, max_length=32)


class Build(BuildBase, table=True):
    __tablename__ = "builds"

    id: int | None = Field(default=None, primary_key=True)
    status: BuildStatus = Field(default=BuildStatus.running, index=True)
    stage: BuildStage | None = None
    signature: str | None = None
    log_excerpt: str | None = Field(default=None, sa_column=Column(Text))
    image: str | None = None
    attempts: int = 0
    flow_run_id: str | None = None
    # Owner of a running build, to tell a live build from one whose process died.
    host: str | None = None
    pid: int | None = None
    started_at: datetime = _timestamp()
    finished_at: datetime | None = _timestamp(nullable=True, default_now=False)
    duration_s: float | None = None


class BuildCreate(BuildBase):
    flow_run_id: str | None = None


class BuildPublic(BuildBase):
    id: int
    status: BuildStatus
    stage: BuildStage | None
    signature: str | None
    log_excerpt: str | None
    image: str | None
    attempts: int
    flow_run_id: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None


# ---------------------------------------------------------------- notifications


class NotificationRecord(SQLModel, table=True):
    """One delivery attempt of an event to a channel; also the deduplication ledger."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("dedup_key", "channel", name="uq_notification_dedup"),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(index=True, max_length=255)
    channel: str = Field(index=True, max_length=255)
    event: str = Field(max_length=64)
    service: str = Field(index=True, max_length=63)
    commit: str | None = Field(default=None, max_length=64)
    status: str = Field(default="pending", max_length=32)  # pending|sent|failed|suppressed
    detail: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _timestamp()
    sent_at: datetime | None = _timestamp(nullable=True, default_now=False)


# ---------------------------------------------------------------- webhook deliveries


class WebhookDelivery(SQLModel, table=True):
    """A verified forge delivery; the unique id makes redeliveries no-ops, and `emitted` makes
    an accepted delivery survive a Prefect outage (it is re-emitted later)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("forge", "delivery_id", name="uq_webhook_delivery"),)

    id: int | None = Field(default=None, primary_key=True)
    forge: str = Field(max_length=16)
    delivery_id: str = Field(max_length=255)
    service: str | None = Field(default=None, max_length=63)
    event: str = Field(max_length=64)
    payload: str = Field(sa_column=Column(Text))  # the Prefect event, as JSON
    emitted: bool = False
    received_at: datetime = _timestamp()
    emitted_at: datetime | None = _timestamp(nullable=True, default_now=False)


# ---------------------------------------------------------------- bisections


class BisectionStatus(StrEnum):
    running = "running"
    confirmed = "confirmed"
    inconclusive = "inconclusive"
    error = "error"
    interrupted = "interrupted"


class BisectionBase(SQLModel):
    service: str = Field(index=True, max_length=63)
    good: str = Field(max_length=64)
    bad: str = Field(max_length=64)
    trigger: str = "cli"


class Bisection(BisectionBase, table=True):
    __tablename__ = "bisections"

    id: int | None = Field(default=None, primary_key=True)
    status: BisectionStatus = Field(default=BisectionStatus.running, index=True)
    culprit: str | None = Field(default=None, max_length=64)
    culprit_author: str | None = None
    culprit_subject: str | None = None
    confidence: float | None = None
    signature: str | None = None
    builds: int = 0
    # JSON list of [commit, probability] for an inconclusive result.
    suspects: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    report: str | None = Field(default=None, sa_column=Column(Text))  # the markdown report
    log_excerpt: str | None = Field(default=None, sa_column=Column(Text))
    flow_run_id: str | None = None
    host: str | None = None
    pid: int | None = None
    # Refreshed while the bisection runs: how another host tells a live one from a dead one.
    heartbeat_at: datetime | None = _timestamp(nullable=True, default_now=False)
    started_at: datetime = _timestamp()
    finished_at: datetime | None = _timestamp(nullable=True, default_now=False)


class BisectProbe(SQLModel, table=True):
    __tablename__ = "bisect_probes"

    id: int | None = Field(default=None, primary_key=True)
    bisection_id: int = Field(foreign_key="bisections.id", index=True)
    commit: str = Field(max_length=64)
    outcome: str = Field(max_length=16)  # passed | failed | error
    signature: str | None = None
    duration_s: float = 0.0
    cached: bool = False
    build_id: int | None = Field(default=None, foreign_key="builds.id")
    created_at: datetime = _timestamp()


# ---------------------------------------------------------------- per-test results


class TestResultBase(SQLModel):
    """One test's result in one build (monitor build, check or bisection probe), parsed from
    its libtest output: `binary` as cargo names it (`unittests src/main.rs`, `tests/api.rs`),
    `outcome` ok | failed | ignored, `panic_location` where a failed test panicked."""

    __test__ = False  # not a pytest test class

    build_id: int = Field(foreign_key="builds.id", index=True)
    binary: str = Field(max_length=255)
    name: str = Field(max_length=512)
    outcome: str = Field(max_length=16)
    panic_location: str | None = Field(default=None, max_length=255)


class TestResult(TestResultBase, table=True):
    __tablename__ = "test_results"

    id: int | None = Field(default=None, primary_key=True)


# ---------------------------------------------------------------- rollbacks


class RollbackStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    # A step or the verification failed; what had changed was restored.
    failed = "failed"
    refused = "refused"
    dry_run = "dry_run"
    # The service was already there: nothing changed.
    noop = "noop"
    # The process died mid-way; a later run restored the previous state.
    interrupted = "interrupted"


class RollbackBase(SQLModel):
    service: str = Field(index=True, max_length=63)
    action: str = Field(default="rollback", max_length=16)  # rollback | emergency | deploy
    strategy: str = Field(max_length=16)  # redeploy | revert | both
    trigger: str = Field(default="cli", max_length=32)  # cli | ui | bisect | demo | ...
    triggered_by: str = ""
    reason: str = Field(default="", sa_column=Column(Text))
    from_commit: str | None = Field(default=None, max_length=64)
    to_commit: str | None = Field(default=None, max_length=64)
    culprit: str | None = Field(default=None, max_length=64)
    dry_run: bool = False


class Rollback(RollbackBase, table=True):
    __tablename__ = "rollbacks"

    id: int | None = Field(default=None, primary_key=True)
    status: RollbackStatus = Field(default=RollbackStatus.running, index=True)
    automatic: bool = Field(default=False, index=True)
    # JSON list of the gates' verdicts.
    gates: str | None = Field(default=None, sa_column=Column(Text))
    verification: str | None = Field(default=None, max_length=16)  # passed | failed | skipped
    verification_detail: str | None = Field(default=None, sa_column=Column(Text))
    revert_commit: str | None = Field(default=None, max_length=64)
    pushed_ref: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    flow_run_id: str | None = None
    host: str | None = None
    pid: int | None = None
    started_at: datetime = _timestamp()
    finished_at: datetime | None = _timestamp(nullable=True, default_now=False)
    duration_s: float | None = None


class RollbackPublic(RollbackBase):
    id: int
    status: RollbackStatus
    automatic: bool
    verification: str | None
    verification_detail: str | None
    revert_commit: str | None
    pushed_ref: str | None
    error: str | None
    flow_run_id: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None


class RollbackStepBase(SQLModel):
    rollback_id: int = Field(foreign_key="rollbacks.id", index=True)
    position: int = 0
    name: str = Field(max_length=64)
    status: str = Field(default="running", max_length=16)  # running | done | failed | undone
    detail: str | None = Field(default=None, sa_column=Column(Text))


class RollbackStep(RollbackStepBase, table=True):
    __tablename__ = "rollback_steps"

    id: int | None = Field(default=None, primary_key=True)
    # JSON: what undoing this step needs (read by crash recovery).
    undo: str | None = Field(default=None, sa_column=Column(Text))
    started_at: datetime = _timestamp()
    finished_at: datetime | None = _timestamp(nullable=True, default_now=False)


class RollbackStepPublic(RollbackStepBase):
    id: int
    started_at: datetime
    finished_at: datetime | None


# ---------------------------------------------------------------- distributed bisection probes


class ProbeClaim(SQLModel, table=True):
    """One probe a bisection asked a worker for (build_monitor/history/probe_claims.py): which
    run holds it (`owner`, alive while `heartbeat_at` is fresh) and, once `done`, its result
    (a ProbeResult as JSON), so a retried run returns it instead of building again."""

    __tablename__ = "probe_claims"

    id: int | None = Field(default=None, primary_key=True)
    bisection_id: int = Field(foreign_key="bisections.id", index=True)
    commit: str = Field(max_length=64)
    status: str = Field(default="requested", max_length=16)  # requested | running | done
    owner: str | None = Field(default=None, max_length=64)
    host: str | None = Field(default=None, max_length=255)
    attempts: int = 0
    result: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _timestamp()
    heartbeat_at: datetime | None = _timestamp(nullable=True, default_now=False)
    finished_at: datetime | None = _timestamp(nullable=True, default_now=False)
