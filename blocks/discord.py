"""Discord webhook: any URL, embed payloads, and a failure raises with the status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio.to_thread
import httpx
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.blocks.abstract import NotificationBlock
from pydantic import Field, SecretStr

from build_monitor.notifications.compose import compose_plain
from build_monitor.notifications.http import encode_json, post_json
from build_monitor.notifications.render import render_discord

ENV_VAR = "DISCORD_WEBHOOK_URL"


class DiscordWebhook(NotificationBlock):
    """Posts to a Discord webhook (or anything that speaks its JSON) with httpx.

    Unlike Prefect's Apprise-based DiscordWebhook it accepts any URL and raises DeliveryError
    carrying the receiver's HTTP status when a message is not accepted.
    """

    _block_type_name = "Build Monitor Discord Webhook"
    _block_type_slug = "build-monitor-discord-webhook"
    _description = "Discord webhook used by build-monitor; raises when Discord refuses."

    url: SecretStr = Field(
        title="Webhook URL",
        description="The incoming webhook URL, e.g. https://discord.com/api/webhooks/...",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DiscordWebhook | None:
        url = environ.get(ENV_VAR, "").strip()
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
            receiver="Discord",
            timeout=timeout,
            transport=transport,
        )

    async def anotify(self, body: str, subject: str | None = None) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.send(render_discord(compose_plain(body, subject)))
        )

    @async_dispatch(anotify)
    def notify(self, body: str, subject: str | None = None) -> None:  # type: ignore[override]
        self.send(render_discord(compose_plain(body, subject)))
