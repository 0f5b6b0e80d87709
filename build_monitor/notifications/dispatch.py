"""Delivering events: routing, the ledger (dedup, quiet periods, fast fail), one thread per
channel, and results that never raise.

Where senders come from (saved blocks, the environment) and how one send runs (a Prefect task
inside a flow) are handed in by the caller, so this module imports no blocks and no tasks."""

from __future__ import annotations

import contextvars
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol

import httpx
from prefect.context import FlowRunContext
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect.settings import get_current_settings

from build_monitor.config import Config
from build_monitor.errors import BuildMonitorError, ConfigError
from build_monitor.history.db import get_engine, session_scope
from build_monitor.history.models import NotificationRecord
from build_monitor.notifications import ledger
from build_monitor.notifications.compose import (
    Message,
    compose,
    compose_summary,
    compose_test,
    redact_message,
)
from build_monitor.notifications.config import NotificationConfig
from build_monitor.notifications.events import NotificationEvent
from build_monitor.notifications.links import flow_run_url, ui_base_url
from build_monitor.notifications.redact import redact, register_secret
from build_monitor.notifications.retry import DeliveryError, RetryPolicy, send_with_retries
from build_monitor.notifications.routing import routes_for, select_entry
from build_monitor.notifications.senders import SECRET_ENV_VARS, Sender, sender_from_env

DeliveryStatus = Literal["sent", "failed", "suppressed", "duplicate"]
# After a failure, a channel gets one attempt per event (no retries) for this long.
FAST_FAIL_WINDOW = timedelta(minutes=5)
_internal_logger = logging.getLogger("build_monitor.notifications")


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    kind: str
    event: str
    service: str
    status: DeliveryStatus
    detail: str | None = None
    status_code: int | None = None
    attempts: int = 0
    elapsed_seconds: float = 0.0


class SenderSource(Protocol):
    """How an entry becomes a Sender; raises BuildMonitorError when it cannot."""

    def __call__(
        self,
        entry: NotificationConfig,
        *,
        environ: Mapping[str, str],
        transport: httpx.BaseTransport | None,
    ) -> Sender: ...


class SendStep(Protocol):
    """Delivers one rendered message with retries; returns the attempts used."""

    def __call__(
        self,
        channel: str,
        sender: Sender,
        outgoing: Any,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
    ) -> int: ...


def send_now(
    channel: str,
    sender: Sender,
    outgoing: Any,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Deliver in this thread, retrying transient failures (Retry-After and the budget
    honoured); raises DeliveryError with `.attempts` when it gives up."""
    return send_with_retries(lambda timeout: sender.deliver(outgoing, timeout), policy, sleep=sleep)


def policy_for(entry: NotificationConfig) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=entry.max_attempts,
        timeout_seconds=entry.timeout_seconds,
        budget_seconds=entry.retry_budget_seconds,
    )


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return _internal_logger


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Context:
    config: Config
    environ: Mapping[str, str]
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    transport: httpx.BaseTransport | None
    senders: SenderSource
    send: SendStep

    def secrets(self, sender: Sender | None) -> list[str]:
        values = [self.environ.get(name, "") for name in SECRET_ENV_VARS]
        return [v for v in values if v] + (sender.secrets() if sender else [])

    def session(self) -> Any:
        return session_scope(self.config.database_url)

    def resolve(self, entry: NotificationConfig) -> Sender:
        sender = self.senders(entry, environ=self.environ, transport=self.transport)
        for secret in sender.secrets():
            register_secret(secret)
        return sender


def _deliver(
    ctx: _Context,
    entry: NotificationConfig,
    sender: Sender,
    message: Message,
    event: NotificationEvent | None,
    record_id: int,
    kind_label: str,
) -> DeliveryResult:
    secrets = ctx.secrets(sender)
    clean = redact_message(message, secrets)
    policy = policy_for(entry)
    with ctx.session() as session:
        if ledger.recently_failed(
            session, channel=entry.name, since=ctx.clock() - FAST_FAIL_WINDOW
        ):
            policy = replace(policy, max_attempts=1)
    started = time.monotonic()
    status: DeliveryStatus = "sent"
    detail: str | None = None
    status_code: int | None = None
    attempts = 0
    try:
        attempts = ctx.send(entry.name, sender, sender.render(clean, event), policy, ctx.sleep)
    except DeliveryError as exc:
        status, status_code, attempts = "failed", exc.status_code, exc.attempts
        detail = redact(exc.message, secrets)
    except Exception as exc:  # a bug or an unexpected library error must not stop the flow
        status = "failed"
        detail = redact(f"{type(exc).__name__}: {exc}", secrets)[:500]
    elapsed = round(time.monotonic() - started, 3)
    if status == "failed" and attempts > 1:
        detail = f"{detail} (after {attempts} attempts)"
    with ctx.session() as session:
        ledger.finish(session, record_id=record_id, status=status, detail=detail, now=ctx.clock())
    log = _logger()
    if status == "sent":
        log.info("notification %s sent to %s (%d attempts)", kind_label, entry.name, attempts)
    else:
        log.warning("notification %s to %s failed: %s", kind_label, entry.name, detail)
    return DeliveryResult(
        channel=entry.name,
        kind=entry.channel,
        event=kind_label,
        service=message.service,
        status=status,
        detail=detail,
        status_code=status_code,
        attempts=attempts,
        elapsed_seconds=elapsed,
    )


def _record_failure(
    ctx: _Context, entry: NotificationConfig, event: NotificationEvent, detail: str
) -> DeliveryResult:
    with ctx.session() as session:
        record = ledger.claim(session, event=event, channel=entry.name, now=ctx.clock())
        if record is not None and record.id is not None:
            ledger.finish(
                session, record_id=record.id, status="failed", detail=detail, now=ctx.clock()
            )
    _logger().warning("notification %s to %s failed: %s", event.event, entry.name, detail)
    return _result(entry, event, "failed", detail)


def _flush_for(ctx: _Context, entry: NotificationConfig, sender: Sender) -> list[DeliveryResult]:
    """Send the summary of what was held back for every service whose quiet period is over."""
    results: list[DeliveryResult] = []
    now = ctx.clock()
    with ctx.session() as session:
        services = ledger.services_with_held_back(session, channel=entry.name)
    for service in services:
        with ctx.session() as session:
            if ledger.in_quiet_period(
                session,
                channel=entry.name,
                service=service,
                events=list(entry.quiet_events),
                quiet_period_seconds=entry.quiet_period_seconds,
                now=now,
            ):
                continue
            records = ledger.held_back(session, channel=entry.name, service=service)
            if not records or records[-1].id is None:
                continue
            summary = ledger.claim_summary(
                session, channel=entry.name, service=service, covered_up_to=records[-1].id, now=now
            )
            if summary is None or summary.id is None:
                continue
            held, summary_id = ledger.as_held_events(records), summary.id
        message = compose_summary(service, held, entry.quiet_period_seconds)
        results.append(
            _deliver(ctx, entry, sender, message, None, summary_id, ledger.SUMMARY_EVENT)
        )
    return results


def _notify_entry(
    ctx: _Context, entry: NotificationConfig, event: NotificationEvent, link: str | None
) -> list[DeliveryResult]:
    try:
        sender = ctx.resolve(entry)
    except BuildMonitorError as exc:
        return [_record_failure(ctx, entry, event, redact(str(exc), ctx.secrets(None)))]
    results = _flush_for(ctx, entry, sender)
    now = ctx.clock()
    with ctx.session() as session:
        record = ledger.claim(session, event=event, channel=entry.name, now=now)
        if record is None or record.id is None:
            return [*results, _result(entry, event, "duplicate", "already handled")]
        record_id = record.id
        if event.event in entry.quiet_events and ledger.in_quiet_period(
            session,
            channel=entry.name,
            service=event.service,
            events=list(entry.quiet_events),
            quiet_period_seconds=entry.quiet_period_seconds,
            now=now,
        ):
            detail = f"held back: quiet period of {entry.quiet_period_seconds:g} s"
            ledger.finish(session, record_id=record_id, status="suppressed", detail=detail, now=now)
            return [*results, _result(entry, event, "suppressed", detail)]
    message = compose(event, flow_run_url=link, log_lines=entry.log_lines)
    results.append(_deliver(ctx, entry, sender, message, event, record_id, event.event))
    return results


def _result(
    entry: NotificationConfig, event: NotificationEvent, status: DeliveryStatus, detail: str
) -> DeliveryResult:
    return DeliveryResult(
        channel=entry.name,
        kind=entry.channel,
        event=event.event,
        service=event.service,
        status=status,
        detail=detail,
    )


def _ui_base(config: Config) -> str | None:
    settings = get_current_settings()
    return ui_base_url(
        public_ui_url=config.server.public_ui_url,
        prefect_ui_url=settings.ui_url,
        prefect_api_url=settings.api.url,
    )


def _with_flow_run(
    event: NotificationEvent, config: Config
) -> tuple[NotificationEvent, str | None]:
    if event.flow_run_id is None:
        run_context = FlowRunContext.get()
        if run_context is not None and run_context.flow_run is not None:
            event = event.model_copy(update={"flow_run_id": str(run_context.flow_run.id)})
    link = event.flow_run_url or flow_run_url(_ui_base(config), event.flow_run_id)
    return event, link


def _run_parallel(jobs: list[Callable[[], list[DeliveryResult]]]) -> list[DeliveryResult]:
    if len(jobs) == 1:
        return jobs[0]()
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        # Each thread gets a copy of the caller's context, so task runs join the flow run.
        futures = [pool.submit(contextvars.copy_context().run, job) for job in jobs]
        return [result for future in futures for result in future.result()]


def _guarded(
    ctx: _Context, entry: NotificationConfig, job: Callable[[], list[DeliveryResult]], label: str
) -> Callable[[], list[DeliveryResult]]:
    def run() -> list[DeliveryResult]:
        try:
            return job()
        except Exception as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", ctx.secrets(None))[:500]
            _logger().error("notification %s to %s failed: %s", label, entry.name, detail)
            return [
                DeliveryResult(
                    channel=entry.name,
                    kind=entry.channel,
                    event=label,
                    service="-",
                    status="failed",
                    detail=detail,
                )
            ]

    return run


def notify(
    event: NotificationEvent,
    *,
    config: Config,
    senders: SenderSource = sender_from_env,
    send: SendStep = send_now,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = _utcnow,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> list[DeliveryResult]:
    """Send the event to every entry subscribed to it, each channel in parallel; never raises.

    The ledger makes a retried flow send once, holds back flapping events, and records
    failures for `ledger.channel_health`."""
    ctx = _Context(
        config, os.environ if environ is None else environ, clock, sleep, transport, senders, send
    )
    try:
        try:
            service_routes = config.service(event.service).notifications
        except BuildMonitorError:
            service_routes = None
        entries = routes_for(
            event=event.event,
            service=event.service,
            entries=config.notifications,
            service_routes=service_routes,
        )
        if not entries:
            return []
        event, link = _with_flow_run(event, config)
        get_engine(config.database_url)  # create the schema once, before the threads race to
        jobs = [
            _guarded(ctx, entry, partial(_notify_entry, ctx, entry, event, link), event.event)
            for entry in entries
        ]
        return _run_parallel(jobs)
    except Exception as exc:
        detail = redact(f"{type(exc).__name__}: {exc}", ctx.secrets(None))[:500]
        _logger().error("notifications for %s failed: %s", event.event, detail)
        return [
            DeliveryResult(
                channel="*",
                kind="-",
                event=event.event,
                service=event.service,
                status="failed",
                detail=detail,
            )
        ]


def flush_held_back(
    *,
    config: Config,
    senders: SenderSource = sender_from_env,
    send: SendStep = send_now,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = _utcnow,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> list[DeliveryResult]:
    """Send due quiet-period summaries without a new event (e.g. from a periodic flow)."""
    ctx = _Context(
        config, os.environ if environ is None else environ, clock, sleep, transport, senders, send
    )
    results: list[DeliveryResult] = []
    for entry in config.notifications:
        try:
            sender = ctx.resolve(entry)
        except BuildMonitorError:
            continue
        results += _guarded(ctx, entry, partial(_flush_for, ctx, entry, sender), "flush")()
    return results


def send_test_message(
    name_or_kind: str,
    text: str,
    *,
    config: Config,
    senders: SenderSource = sender_from_env,
    send: SendStep = send_now,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = _utcnow,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> DeliveryResult:
    """Send `text` through one entry (by name, else the first of that kind); bad input raises
    BuildMonitorError, a failed send is a `failed` result (recorded for channel_health)."""
    if not text.strip():
        raise ConfigError("the test message is empty")
    entry = select_entry(name_or_kind, config.notifications)
    ctx = _Context(
        config, os.environ if environ is None else environ, clock, sleep, transport, senders, send
    )
    sender = ctx.resolve(entry)
    with ctx.session() as session:
        record = NotificationRecord(
            dedup_key=f"test:{uuid.uuid4().hex}",
            channel=entry.name,
            event="test",
            service="-",
            status="pending",
            created_at=ctx.clock(),
        )
        session.add(record)
        session.flush()
        record_id = record.id
    assert record_id is not None
    message = compose_test(text, channel_name=entry.name)
    return _deliver(ctx, entry, sender, message, None, record_id, "test")
