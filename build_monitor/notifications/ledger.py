"""The notifications table as a ledger: deduplication, quiet periods and channel health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from build_monitor.history.models import NotificationRecord
from build_monitor.notifications.compose import HeldEvent
from build_monitor.notifications.events import NotificationEvent

SUMMARY_EVENT = "held_back_summary"
SUMMARY_PREFIX = "summary:"
# A `pending` row older than this belongs to a process that died mid-send: send again.
STALE_PENDING = timedelta(minutes=10)


@dataclass(frozen=True)
class ChannelHealth:
    channel: str
    failing: bool
    last_status: str
    last_attempt_at: datetime
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure_detail: str | None


def claim(
    session: Session, *, event: NotificationEvent, channel: str, now: datetime
) -> NotificationRecord | None:
    """The pending row for this event on this channel, or None if it was already handled."""
    key = event.dedup_key
    existing = session.exec(
        select(NotificationRecord).where(
            NotificationRecord.dedup_key == key, NotificationRecord.channel == channel
        )
    ).first()
    if existing is not None:
        retry_failed = existing.status == "failed"
        retry_stale = existing.status == "pending" and now - existing.created_at > STALE_PENDING
        if not (retry_failed or retry_stale):
            return None
        existing.status, existing.created_at = "pending", now
        session.add(existing)
        session.flush()
        return existing
    record = NotificationRecord(
        dedup_key=key,
        channel=channel,
        event=event.event,
        service=event.service,
        commit=event.commit,
        status="pending",
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return None
    return record


def finish(
    session: Session, *, record_id: int, status: str, detail: str | None, now: datetime
) -> None:
    record = session.get(NotificationRecord, record_id)
    if record is None:
        return
    record.status, record.detail = status, detail
    if status == "sent":
        record.sent_at = now
    session.add(record)


def last_sent_at(
    session: Session, *, channel: str, service: str, events: list[str]
) -> datetime | None:
    return session.exec(
        select(NotificationRecord.sent_at)
        .where(
            NotificationRecord.channel == channel,
            NotificationRecord.service == service,
            NotificationRecord.status == "sent",
            col(NotificationRecord.event).in_(events),
        )
        .order_by(col(NotificationRecord.sent_at).desc())
        .limit(1)
    ).first()


def in_quiet_period(
    session: Session,
    *,
    channel: str,
    service: str,
    events: list[str],
    quiet_period_seconds: float,
    now: datetime,
) -> bool:
    if quiet_period_seconds <= 0:
        return False
    last = last_sent_at(session, channel=channel, service=service, events=events)
    return last is not None and now < last + timedelta(seconds=quiet_period_seconds)


def _last_summarised_id(session: Session, *, channel: str, service: str) -> int:
    keys = session.exec(
        select(NotificationRecord.dedup_key).where(
            NotificationRecord.channel == channel,
            NotificationRecord.service == service,
            NotificationRecord.event == SUMMARY_EVENT,
            col(NotificationRecord.status).in_(["sent", "pending"]),
        )
    ).all()
    return max((int(key.rsplit(":", 1)[1]) for key in keys), default=0)


def held_back(session: Session, *, channel: str, service: str) -> list[NotificationRecord]:
    """Suppressed rows no summary has covered yet, oldest first."""
    after = _last_summarised_id(session, channel=channel, service=service)
    return list(
        session.exec(
            select(NotificationRecord)
            .where(
                NotificationRecord.channel == channel,
                NotificationRecord.service == service,
                NotificationRecord.status == "suppressed",
                col(NotificationRecord.id) > after,
            )
            .order_by(col(NotificationRecord.id))
        ).all()
    )


def services_with_held_back(session: Session, *, channel: str) -> list[str]:
    rows = session.exec(
        select(NotificationRecord.service)
        .where(NotificationRecord.channel == channel, NotificationRecord.status == "suppressed")
        .distinct()
    ).all()
    return sorted(rows)


def as_held_events(records: list[NotificationRecord]) -> list[HeldEvent]:
    return [HeldEvent(event=r.event, commit=r.commit, at=r.created_at) for r in records]


def claim_summary(
    session: Session, *, channel: str, service: str, covered_up_to: int, now: datetime
) -> NotificationRecord | None:
    """The row of the summary covering suppressed rows up to `covered_up_to`; the unique key
    makes two concurrent callers send it once."""
    record = NotificationRecord(
        dedup_key=f"{SUMMARY_PREFIX}{service}:{covered_up_to}",
        channel=channel,
        event=SUMMARY_EVENT,
        service=service,
        status="pending",
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return None
    return record


def channel_health(session: Session) -> list[ChannelHealth]:
    """Per channel: is its latest delivery a failure, and what the last failure said."""
    records = session.exec(
        select(NotificationRecord)
        .where(col(NotificationRecord.status).in_(["sent", "failed"]))
        .order_by(col(NotificationRecord.channel), col(NotificationRecord.id))
    ).all()
    latest: dict[str, NotificationRecord] = {}
    last_ok: dict[str, datetime] = {}
    last_bad: dict[str, NotificationRecord] = {}
    for record in records:
        attempt_at = record.sent_at or record.created_at
        current = latest.get(record.channel)
        if current is None or attempt_at >= (current.sent_at or current.created_at):
            latest[record.channel] = record
        if record.status == "sent":
            last_ok[record.channel] = max(attempt_at, last_ok.get(record.channel, attempt_at))
        else:
            bad = last_bad.get(record.channel)
            if bad is None or record.created_at >= bad.created_at:
                last_bad[record.channel] = record
    health: list[ChannelHealth] = []
    for channel, record in sorted(latest.items()):
        bad = last_bad.get(channel)
        health.append(
            ChannelHealth(
                channel=channel,
                failing=record.status == "failed",
                last_status=record.status,
                last_attempt_at=record.sent_at or record.created_at,
                last_success_at=last_ok.get(channel),
                last_failure_at=bad.created_at if bad else None,
                last_failure_detail=bad.detail if bad else None,
            )
        )
    return health


def recently_failed(session: Session, *, channel: str, since: datetime) -> bool:
    """Whether the channel's latest delivery failed after `since` (then: one attempt only)."""
    record = session.exec(
        select(NotificationRecord)
        .where(
            NotificationRecord.channel == channel,
            col(NotificationRecord.status).in_(["sent", "failed"]),
        )
        .order_by(col(NotificationRecord.created_at).desc())
        .limit(1)
    ).first()
    return record is not None and record.status == "failed" and record.created_at >= since
