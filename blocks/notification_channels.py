"""Which block type serves each notification channel, and an entry's Sender: from its saved
block by name, else from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import httpx
from prefect.blocks.core import Block
from prefect_email import EmailServerCredentials
from prefect_email.credentials import SMTPServer, SMTPType

from blocks.custom_webhook import CustomWebhook
from blocks.discord import DiscordWebhook
from blocks.slack import SlackWebhook
from build_monitor.errors import ConfigError
from build_monitor.notifications.config import ChannelKind, NotificationConfig
from build_monitor.notifications.redact import redact
from build_monitor.notifications.senders import EmailSender, Sender, sender_from_env
from build_monitor.notifications.smtp import SmtpSettings, parse_security

BLOCK_TYPES: dict[ChannelKind, type[Block]] = {
    "slack": SlackWebhook,
    "discord": DiscordWebhook,
    "webhook": CustomWebhook,
    "email": EmailServerCredentials,
}

# Where each block type is defined: `prefect block register -m MODULE` registers it.
_MODULES: dict[ChannelKind, str] = {
    "slack": "blocks.slack",
    "discord": "blocks.discord",
    "webhook": "blocks.custom_webhook",
    "email": "prefect_email",
}


def load_block(entry: NotificationConfig, name: str) -> Block:
    """The entry's saved block; ConfigError (naming no secret) when it cannot be loaded."""
    try:
        return cast(Block, BLOCK_TYPES[entry.channel].load(name))
    except Exception as exc:
        reason = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise ConfigError(
            f"notification {entry.name!r}: cannot load block {name!r} ({reason}); "
            f"register it with `prefect block register -m {_MODULES[entry.channel]}` and create it"
        ) from None


def smtp_settings(credentials: EmailServerCredentials) -> SmtpSettings:
    """prefect-email's block as SmtpSettings: its get_client(), the one place its password is
    unwrapped (prefect-email's own get_server() has no timeout)."""
    host, security = credentials.smtp_server, credentials.smtp_type
    return SmtpSettings(
        host=host.value if isinstance(host, SMTPServer) else str(host),
        security=parse_security(security.name if isinstance(security, SMTPType) else security),
        port=credentials.smtp_port,
        username=credentials.username,
        password=credentials.password.get_secret_value(),
        verify=bool(credentials.verify),
    )


def sender_for(
    entry: NotificationConfig,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Sender:
    """The entry's block by name, else one built from the environment; ConfigError if neither."""
    if not entry.block:
        return sender_from_env(entry, environ=environ, transport=transport)
    block = load_block(entry, entry.block)
    if isinstance(block, EmailServerCredentials):
        return EmailSender(smtp_settings(block), entry=entry)
    if isinstance(block, CustomWebhook):
        return block.get_client(transport=transport, headers=entry.headers)
    assert isinstance(block, SlackWebhook | DiscordWebhook)
    return block.get_client(transport=transport)
