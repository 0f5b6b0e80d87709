"""Discord webhook: any URL, embeds, and a failure raises with the receiver's status."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from blocks.chat_webhook import ChatWebhook
from build_monitor.notifications.render import render_discord

ENV_VAR = "DISCORD_WEBHOOK_URL"


class DiscordWebhook(ChatWebhook):
    """Posts to a Discord webhook (or anything that speaks its JSON) with httpx.

    Unlike Prefect's Apprise-based DiscordWebhook it accepts any URL and raises DeliveryError
    carrying the receiver's HTTP status when a message is not accepted.
    """

    _block_type_name = "Build Monitor Discord Webhook"
    _block_type_slug = "build-monitor-discord-webhook"
    _description = "Discord webhook used by build-monitor; raises when Discord refuses."

    receiver: ClassVar[str] = "Discord"
    env_var: ClassVar[str] = ENV_VAR
    render = staticmethod(render_discord)

    url: SecretStr = Field(
        title="Webhook URL",
        description="The incoming webhook URL, e.g. https://discord.com/api/webhooks/...",
    )
