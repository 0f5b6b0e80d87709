"""Sending notifications from flows without letting a slow or down channel hold up the work."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait

from prefect.context import FlowRunContext, TaskRunContext

from blocks.notification_channels import sender_for
from build_monitor.config import Config
from build_monitor.notifications import dispatch
from build_monitor.notifications.build_events import build_event
from build_monitor.notifications.dispatch import DeliveryResult
from build_monitor.notifications.events import NotificationEvent
from tasks.notify import send_notification

__all__ = ["BackgroundNotifier", "build_event", "notify"]


def notify(
    event: NotificationEvent, *, config: Config, environ: Mapping[str, str] | None = None
) -> list[DeliveryResult]:
    """dispatch.notify with saved blocks; inside a run each send is a `send-<entry>` task run."""
    in_run = FlowRunContext.get() is not None or TaskRunContext.get() is not None
    return dispatch.notify(
        event,
        config=config,
        senders=sender_for,
        send=send_notification if in_run else dispatch.send_now,
        environ=environ,
    )


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
