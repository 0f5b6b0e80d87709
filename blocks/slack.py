"""Slack incoming webhook: any URL, Block Kit payloads, and a failure raises with the status."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from blocks.chat_webhook import ChatWebhook
from build_monitor.notifications.render import render_slack

ENV_VAR = "SLACK_WEBHOOK_URL"


class SlackWebhook(ChatWebhook):
    """Posts to a Slack incoming webhook (or anything that speaks its JSON) with httpx.

    Unlike Prefect's Apprise-based SlackWebhook it accepts any URL and raises DeliveryError
    carrying the receiver's HTTP status when a message is not accepted.
    """

    _block_type_name = "Build Monitor Slack Webhook"
    _block_type_slug = "build-monitor-slack-webhook"
    _description = "Slack incoming webhook used by build-monitor; raises when Slack refuses."

    receiver: ClassVar[str] = "Slack"
    env_var: ClassVar[str] = ENV_VAR
    render = staticmethod(render_slack)

    url: SecretStr = Field(
        title="Webhook URL",
        description="The incoming webhook URL, e.g. https://hooks.slack.com/...",
    )
