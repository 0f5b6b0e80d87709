"""One JSON POST with httpx, its failure turned into a DeliveryError that names no URL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from build_monitor.notifications.redact import redact, register_secret
from build_monitor.notifications.retry import DeliveryError, is_retryable_status, parse_retry_after

USER_AGENT = "build-monitor"
_BODY_EXCERPT = 200


def encode_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def post_json(
    *,
    url: str,
    body: bytes,
    receiver: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Response:
    """POST body; return the 2xx response, else raise DeliveryError with the receiver's status."""
    register_secret(url)
    request_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    request_headers.update(headers or {})
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=request_headers)
    except httpx.TimeoutException:
        raise DeliveryError(
            f"{receiver} did not answer within {timeout:.1f} s", retryable=True
        ) from None
    except httpx.TransportError as exc:
        reason = redact(type(exc).__name__ + ": " + str(exc), [url])
        raise DeliveryError(f"{receiver} unreachable ({reason})", retryable=True) from None
    if response.is_success:
        return response
    excerpt = redact(response.text[:_BODY_EXCERPT].strip(), [url])
    detail = f"{receiver} answered HTTP {response.status_code}"
    if excerpt:
        detail += f": {excerpt}"
    raise DeliveryError(
        detail,
        status_code=response.status_code,
        retryable=is_retryable_status(response.status_code),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )
