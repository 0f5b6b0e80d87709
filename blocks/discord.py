"""Discord webhook: any URL, embeds, and a failure raises with the receiver's status."""

from __future__ import annotations

import httpx
from pydantic import Field, HttpUrl, SecretStr

from blocks.notification_block import BuildMonitorNotificationBlock
from build_monitor.notifications.senders import DiscordSender


class DiscordWebhook(BuildMonitorNotificationBlock):
    """Posts to a Discord webhook (or anything that speaks its JSON) with httpx.

    Unlike Prefect's Apprise-based DiscordWebhook it accepts any URL and raises DeliveryError
    carrying the receiver's HTTP status when a message is not accepted.
    """

    _block_type_name = "Build Monitor Discord Webhook"
    _block_type_slug = "build-monitor-discord-webhook"
    _description = "Discord webhook used by build-monitor; raises when Discord refuses."
    _documentation_url = HttpUrl(
        "https://discord.com/developers/docs/resources/webhook#execute-webhook"
    )

    url: SecretStr = Field(
        title="Webhook URL",
        description="The incoming webhook URL, e.g. https://discord.com/api/webhooks/...",
    )

    def get_client(self, *, transport: httpx.BaseTransport | None = None) -> DiscordSender:
        return DiscordSender(self.url.get_secret_value(), transport=transport)
