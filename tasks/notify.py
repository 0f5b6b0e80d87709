"""Notification tasks: one send of a rendered message, a task run of the calling flow."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from build_monitor.notifications.dispatch import send_now
from build_monitor.notifications.retry import RetryPolicy
from build_monitor.notifications.senders import Sender


# No Prefect retries or timeout: send_now retries inside, honouring Retry-After and the
# entry's time budget, and every attempt has its own HTTP or SMTP timeout.
@task(
    name="send-notification",
    task_run_name="send-{channel}",
    retries=0,
    cache_policy=NO_CACHE,
    persist_result=False,
    log_prints=False,
)
def send_notification(
    channel: str,
    sender: Sender,
    outgoing: Any,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Deliver one rendered message, retrying transient failures; returns the attempts used."""
    return send_now(channel, sender, outgoing, policy, sleep)
