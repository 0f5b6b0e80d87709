"""A generic JSON webhook signed with a shared secret (HMAC-SHA256 of the raw body)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio.to_thread
import httpx
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.blocks.abstract import NotificationBlock
from prefect.types import SecretDict
from pydantic import Field, SecretStr

from build_monitor.notifications.compose import compose_plain
from build_monitor.notifications.http import encode_json, post_json
from build_monitor.notifications.render import render_webhook
from build_monitor.notifications.signing import SIGNATURE_HEADER, sign_body

URL_ENV_VAR = "BUILD_MONITOR_WEBHOOK_URL"
SECRET_ENV_VAR = "BUILD_MONITOR_WEBHOOK_SECRET"


class CustomWebhook(NotificationBlock):
    """POSTs the event as JSON with `X-Build-Monitor-Signature: sha256=<hex HMAC of the body>`.

    Prefect's CustomWebhookNotificationBlock templates form or JSON fields but cannot sign the
    raw body, so receivers could not tell a real message from a forged one.
    """

    _block_type_name = "Build Monitor Custom Webhook"
    _block_type_slug = "build-monitor-custom-webhook"
    _description = "JSON webhook signed with a shared secret, used by build-monitor."

    url: SecretStr = Field(title="URL", description="Where to POST the JSON.")
    secret: SecretStr | None = Field(
        default=None,
        description="Shared secret for the HMAC-SHA256 signature header; unset: unsigned.",
    )
    headers: SecretDict | None = Field(
        default=None, description="Extra request headers, e.g. an Authorization token."
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CustomWebhook | None:
        url = environ.get(URL_ENV_VAR, "").strip()
        if not url:
            return None
        secret = environ.get(SECRET_ENV_VAR, "").strip()
        return cls(url=SecretStr(url), secret=SecretStr(secret) if secret else None)

    def _extra_headers(self) -> dict[str, str]:
        values = self.headers.get_secret_value() if self.headers is not None else {}
        return {str(key): str(value) for key, value in values.items()}

    def secret_values(self) -> list[str]:
        values = [self.url.get_secret_value(), *self._extra_headers().values()]
        if self.secret is not None:
            values.append(self.secret.get_secret_value())
        return values

    def send(
        self,
        payload: Mapping[str, Any],
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        body = encode_json(payload)
        headers = {**(extra_headers or {}), **self._extra_headers()}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign_body(self.secret.get_secret_value(), body)
        post_json(
            url=self.url.get_secret_value(),
            body=body,
            receiver="the webhook",
            timeout=timeout,
            headers=headers,
            transport=transport,
        )

    async def anotify(self, body: str, subject: str | None = None) -> None:
        payload = render_webhook(compose_plain(body, subject), None)
        await anyio.to_thread.run_sync(lambda: self.send(payload))

    @async_dispatch(anotify)
    def notify(self, body: str, subject: str | None = None) -> None:  # type: ignore[override]
        self.send(render_webhook(compose_plain(body, subject), None))
