"""What the Slack and Discord blocks share: a webhook URL kept secret, a JSON POST with httpx to
any URL, and a failure that raises with the receiver's status (Prefect's Apprise-based blocks
hard-code the providers' hosts and swallow errors)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import anyio.to_thread
import httpx
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.blocks.abstract import NotificationBlock
from pydantic import SecretStr

from build_monitor.notifications.compose import Message, compose_plain
from build_monitor.notifications.http import encode_json, post_json


class ChatWebhook(NotificationBlock):
    """Base of the chat webhook blocks; subclasses name the receiver, its environment variable
    and its payload format."""

    receiver: ClassVar[str]
    env_var: ClassVar[str]
    url: SecretStr

    @staticmethod
    @abstractmethod
    def render(message: Message) -> dict[str, Any]:
        """The receiver's JSON payload for a composed message."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self | None:
        url = environ.get(cls.env_var, "").strip()
        return cls(url=SecretStr(url)) if url else None

    def secret_values(self) -> list[str]:
        return [self.url.get_secret_value()]

    def send(
        self,
        payload: Mapping[str, Any],
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        post_json(
            url=self.url.get_secret_value(),
            body=encode_json(payload),
            receiver=self.receiver,
            timeout=timeout,
            transport=transport,
        )

    async def anotify(self, body: str, subject: str | None = None) -> None:
        await anyio.to_thread.run_sync(lambda: self.send(self.render(compose_plain(body, subject))))

    @async_dispatch(anotify)
    def notify(self, body: str, subject: str | None = None) -> None:  # type: ignore[override]
        self.send(self.render(compose_plain(body, subject)))
