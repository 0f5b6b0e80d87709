"""Sending notifications from flows without letting a slow or down channel hold up the work."""

from __future__ import annotations

import contextvars
from concurrent.futures import Future, ThreadPoolExecutor, wait

from build_monitor.config import Config, ServiceConfig
from build_monitor.history.models import ServiceState
from build_monitor.history.reports import BuildReport
from build_monitor.notifications.config import EventName
from build_monitor.notifications.events import NotificationEvent
from tasks.notify import DeliveryResult, notify


class BackgroundNotifier:
    """Starts each notify() in its own thread (with the flow's context, so sends are task runs
    of the flow); the flow waits for them only at its very end."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._pending: list[Future[list[DeliveryResult]]] = []

    def send(self, event: NotificationEvent) -> None:
        if not self._config.notifications:
            return
        context = contextvars.copy_context()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")
        self._pending.append(executor.submit(context.run, notify, event, config=self._config))
        executor.shutdown(wait=False)

    def wait(self, timeout: float | None = 120) -> None:
        wait(self._pending, timeout=timeout)


def build_event(
    service: ServiceConfig, report: BuildReport, previous: ServiceState
) -> NotificationEvent | None:
    """build_failed for a failing head, build_recovered when a failing service passes again."""
    kind: EventName
    if report.status == "failed":
        kind = "build_failed"
    elif report.status == "passed" and previous == ServiceState.failing:
        kind = "build_recovered"
    else:
        return None
    return NotificationEvent(
        event=kind,
        service=service.name,
        commit=report.commit,
        author=report.author,
        subject=report.subject,
        branch=service.branch,
        stage=report.stage,
        signature=report.signature,
        log_excerpt=report.log_excerpt,
        flow_run_id=report.flow_run_id,
    )
