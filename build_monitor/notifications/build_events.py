"""Which notification a finished build of a service's head produces."""

from __future__ import annotations

from build_monitor.config import ServiceConfig
from build_monitor.history.models import ServiceState
from build_monitor.history.reports import BuildReport
from build_monitor.notifications.config import EventName
from build_monitor.notifications.events import NotificationEvent


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
