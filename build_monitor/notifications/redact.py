"""Keep webhook URLs, tokens and passwords out of messages, details and log lines."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

MASK = "***"
_MIN_SECRET_LENGTH = 6
_known_secrets: set[str] = set()
_lock = threading.Lock()


def _variants(secret: str) -> list[str]:
    variants = [secret]
    if "://" in secret:
        parts = urlsplit(secret)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(tail) >= _MIN_SECRET_LENGTH + 2:
            variants.append(tail)
        if parts.password:
            variants.append(parts.password)
    return variants


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every given secret and every registered one (longest first)."""
    with _lock:
        candidates = set(_known_secrets)
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LENGTH:
            candidates.update(_variants(secret))
    for secret in sorted(candidates, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            if not _known_secrets:
                return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = _RedactingFilter()
# httpx logs every request URL at INFO: for a webhook the URL is the credential.
_SCRUBBED_LOGGERS = ("httpx", "httpcore")


def register_secret(secret: str) -> None:
    """Remember a secret so that log lines from HTTP libraries never show it."""
    if not secret or len(secret) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _known_secrets.update(_variants(secret))
    for name in _SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def redact_structure(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value with every string redacted."""
    secrets = list(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: redact_structure(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_structure(item, secrets) for item in value)
    return value
