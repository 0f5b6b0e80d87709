"""A generic JSON webhook signed with a shared secret (HMAC-SHA256 of the raw body)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prefect.types import SecretDict
from pydantic import Field, HttpUrl, SecretStr

from blocks.notification_block import BuildMonitorNotificationBlock
from build_monitor.notifications.senders import SignedWebhookSender


class CustomWebhook(BuildMonitorNotificationBlock):
    """POSTs the event as JSON with `X-Build-Monitor-Signature: sha256=<hex HMAC of the body>`.

    Prefect's CustomWebhookNotificationBlock templates form or JSON fields but cannot sign the
    raw body, so receivers could not tell a real message from a forged one.
    """

    _block_type_name = "Build Monitor Custom Webhook"
    _block_type_slug = "build-monitor-custom-webhook"
    _description = "JSON webhook signed with a shared secret, used by build-monitor."
    # HMAC, the signature receivers verify.
    _documentation_url = HttpUrl("https://www.rfc-editor.org/rfc/rfc2104")

    url: SecretStr = Field(title="URL", description="Where to POST the JSON.")
    secret: SecretStr | None = Field(
        default=None,
        description="Shared secret for the HMAC-SHA256 signature header; unset: unsigned.",
    )
    headers: SecretDict | None = Field(
        default=None, description="Extra request headers, e.g. an Authorization token."
    )

    def get_client(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SignedWebhookSender:
        """The sender; `headers` are non-secret extras (from config.toml) the block's win over."""
        values = self.headers.get_secret_value() if self.headers is not None else {}
        return SignedWebhookSender(
            self.url.get_secret_value(),
            secret=self.secret.get_secret_value() if self.secret is not None else None,
            secret_headers={str(key): str(value) for key, value in values.items()},
            headers=headers,
            transport=transport,
        )
