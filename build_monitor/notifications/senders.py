"""Senders: one resolved channel that renders a Message for its receiver and delivers it once.

The Prefect blocks hand out these as their client (`block.get_client()`); an entry without a
block gets one built from the environment here."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, ClassVar

import httpx

from build_monitor.errors import ConfigError
from build_monitor.notifications.compose import Message
from build_monitor.notifications.config import ChannelKind, NotificationConfig
from build_monitor.notifications.events import NotificationEvent
from build_monitor.notifications.http import encode_json, post_json
from build_monitor.notifications.redact import redact_structure
from build_monitor.notifications.render import (
    render_discord,
    render_email,
    render_slack,
    render_webhook,
)
from build_monitor.notifications.signing import SIGNATURE_HEADER, sign_body
from build_monitor.notifications.smtp import SmtpSettings, send_email, smtp_settings_from_env

SLACK_ENV_VAR = "SLACK_WEBHOOK_URL"
DISCORD_ENV_VAR = "DISCORD_WEBHOOK_URL"
WEBHOOK_URL_ENV_VAR = "BUILD_MONITOR_WEBHOOK_URL"
WEBHOOK_SECRET_ENV_VAR = "BUILD_MONITOR_WEBHOOK_SECRET"
SMTP_SERVER_ENV_VAR = "SMTP_SERVER"
# Values of these are redacted from every message, log line and record.
SECRET_ENV_VARS = (
    SLACK_ENV_VAR,
    DISCORD_ENV_VAR,
    WEBHOOK_URL_ENV_VAR,
    WEBHOOK_SECRET_ENV_VAR,
    "SMTP_PASSWORD",
)
ENV_HINT: dict[ChannelKind, str] = {
    "slack": SLACK_ENV_VAR,
    "discord": DISCORD_ENV_VAR,
    "webhook": WEBHOOK_URL_ENV_VAR,
    "email": SMTP_SERVER_ENV_VAR,
}


class Sender(ABC):
    """A resolved channel: knows its secrets, renders a Message, delivers it once."""

    kind: ClassVar[ChannelKind]

    @abstractmethod
    def secrets(self) -> list[str]:
        """Values to redact wherever this channel's messages or errors are shown."""

    @abstractmethod
    def render(self, message: Message, event: NotificationEvent | None) -> Any:
        """The receiver's format of a (redacted) message."""

    @abstractmethod
    def deliver(self, outgoing: Any, timeout: float = 10.0) -> None:
        """One attempt; a refusal raises DeliveryError."""


class ChatWebhookSender(Sender):
    """A JSON POST to a chat webhook URL (any host: a proxy or a compatible server too)."""

    receiver: ClassVar[str]

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.url, self.transport = url, transport

    def secrets(self) -> list[str]:
        return [self.url]

    def deliver(self, outgoing: Any, timeout: float = 10.0) -> None:
        post_json(
            url=self.url,
            body=encode_json(outgoing),
            receiver=self.receiver,
            timeout=timeout,
            transport=self.transport,
        )


class SlackSender(ChatWebhookSender):
    kind: ClassVar[ChannelKind] = "slack"
    receiver: ClassVar[str] = "Slack"

    def render(self, message: Message, event: NotificationEvent | None) -> dict[str, Any]:
        return render_slack(message)


class DiscordSender(ChatWebhookSender):
    kind: ClassVar[ChannelKind] = "discord"
    receiver: ClassVar[str] = "Discord"

    def render(self, message: Message, event: NotificationEvent | None) -> dict[str, Any]:
        return render_discord(message)


class SignedWebhookSender(Sender):
    """The event as JSON, signed `X-Build-Monitor-Signature: sha256=<HMAC of the raw body>`."""

    kind: ClassVar[ChannelKind] = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        secret_headers: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, self.secret, self.transport = url, secret, transport
        self.secret_headers = dict(secret_headers or {})
        # Non-secret headers from config.toml; the block's secret ones win on a clash.
        self.headers = dict(headers or {})

    def secrets(self) -> list[str]:
        values = [self.url, *self.secret_headers.values()]
        return [*values, self.secret] if self.secret is not None else values

    def render(self, message: Message, event: NotificationEvent | None) -> dict[str, Any]:
        event_data = event.model_dump(mode="json") if event is not None else None
        return render_webhook(message, redact_structure(event_data, self.secrets()))

    def deliver(self, outgoing: Any, timeout: float = 10.0) -> None:
        body = encode_json(outgoing)
        headers = {**self.headers, **self.secret_headers}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign_body(self.secret, body)
        post_json(
            url=self.url,
            body=body,
            receiver="the webhook",
            timeout=timeout,
            headers=headers,
            transport=self.transport,
        )


class EmailSender(Sender):
    """An e-mail over SMTP."""

    kind: ClassVar[ChannelKind] = "email"

    def __init__(self, smtp: SmtpSettings, *, entry: NotificationConfig) -> None:
        self.smtp, self.entry = smtp, entry

    def secrets(self) -> list[str]:
        return self.smtp.secrets()

    def render(self, message: Message, event: NotificationEvent | None) -> EmailMessage:
        return render_email(
            message,
            from_address=self.entry.from_address,
            to=self.entry.to,
            cc=self.entry.cc,
            subject_prefix=self.entry.subject_prefix,
        )

    def deliver(self, outgoing: Any, timeout: float = 10.0) -> None:
        send_email(self.smtp, outgoing, timeout=timeout)


def missing_sender_message(entry: NotificationConfig) -> str:
    return (
        f"notification {entry.name!r} ({entry.channel}) has no block: set "
        f'`block = "NAME"` in its [[notifications]] entry or ${ENV_HINT[entry.channel]}'
    )


def sender_from_env(
    entry: NotificationConfig,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Sender:
    """The entry's sender from the environment variables; ConfigError when they are unset."""
    environ = os.environ if environ is None else environ

    def variable(name: str) -> str:
        return environ.get(name, "").strip()

    sender: Sender | None = None
    if entry.channel == "slack" and variable(SLACK_ENV_VAR):
        sender = SlackSender(variable(SLACK_ENV_VAR), transport=transport)
    elif entry.channel == "discord" and variable(DISCORD_ENV_VAR):
        sender = DiscordSender(variable(DISCORD_ENV_VAR), transport=transport)
    elif entry.channel == "webhook" and variable(WEBHOOK_URL_ENV_VAR):
        sender = SignedWebhookSender(
            variable(WEBHOOK_URL_ENV_VAR),
            secret=variable(WEBHOOK_SECRET_ENV_VAR) or None,
            headers=entry.headers,
            transport=transport,
        )
    elif entry.channel == "email":
        smtp = smtp_settings_from_env(environ)
        sender = EmailSender(smtp, entry=entry) if smtp is not None else None
    if sender is None:
        raise ConfigError(missing_sender_message(entry))
    return sender
