"""What build-monitor's notification blocks share: `get_client()` hands out the Sender that
delivers (the only place a block's secrets are unwrapped), and `notify()` works from sync and
async callers alike, as Prefect's own notification blocks do (automations await it)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from functools import partial
from typing import Any

import anyio.to_thread
import httpx
from prefect.blocks.abstract import NotificationBlock
from prefect.context import get_run_context
from prefect.exceptions import MissingContextError

from build_monitor.notifications.compose import compose_plain
from build_monitor.notifications.senders import Sender


def caller_is_async() -> bool:
    """True inside an async flow or task run, or, outside any run, on a running event loop."""
    try:
        run = get_run_context()
    except MissingContextError:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True
    owner = getattr(run, "task", None) or getattr(run, "flow", None)
    return bool(getattr(owner, "isasync", True))


class BuildMonitorNotificationBlock(NotificationBlock, ABC):
    """Base of the notification blocks; not a block type of its own (ABC: never registered)."""

    @abstractmethod
    def get_client(self, *, transport: httpx.BaseTransport | None = None) -> Sender:
        """The Sender for this block's receiver, with its secrets unwrapped."""

    def send_plain(self, body: str, subject: str | None = None) -> None:
        """Deliver one plain message now; a refusal raises DeliveryError."""
        client = self.get_client()
        client.deliver(client.render(compose_plain(body, subject), None))

    async def anotify(self, body: str, subject: str | None = None) -> None:
        await anyio.to_thread.run_sync(partial(self.send_plain, body, subject))

    def notify(  # type: ignore[override]
        self, body: str, subject: str | None = None
    ) -> Coroutine[Any, Any, None] | None:
        """Send a plain message: at once from sync code, as a coroutine to await from async."""
        if caller_is_async():
            return self.anotify(body, subject)
        self.send_plain(body, subject)
        return None
