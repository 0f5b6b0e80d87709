"""Slack incoming webhook: any URL, Block Kit payloads, and a failure raises with the status."""

from __future__ import annotations

import httpx
from pydantic import Field, HttpUrl, SecretStr

from blocks.notification_block import BuildMonitorNotificationBlock
from build_monitor.notifications.senders import SlackSender


class SlackWebhook(BuildMonitorNotificationBlock):
    """Posts to a Slack incoming webhook (or anything that speaks its JSON) with httpx.

    Unlike Prefect's Apprise-based SlackWebhook it accepts any URL and raises DeliveryError
    carrying the receiver's HTTP status when a message is not accepted.
    """

    _block_type_name = "Build Monitor Slack Webhook"
    _block_type_slug = "build-monitor-slack-webhook"
    _description = "Slack incoming webhook used by build-monitor; raises when Slack refuses."
    _documentation_url = HttpUrl("https://api.slack.com/messaging/webhooks")

    url: SecretStr = Field(
        title="Webhook URL",
        description="The incoming webhook URL, e.g. https://hooks.slack.com/...",
    )

    def get_client(self, *, transport: httpx.BaseTransport | None = None) -> SlackSender:
        return SlackSender(self.url.get_secret_value(), transport=transport)
