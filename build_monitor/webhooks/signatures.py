"""Constant-time checks of GitHub's `X-Hub-Signature-256` and GitLab's `X-Gitlab-Token`."""

from __future__ import annotations

import hashlib
import hmac

GITHUB_SIGNATURE_PREFIX = "sha256="


def github_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body` signed with `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return GITHUB_SIGNATURE_PREFIX + digest


def verify_github_signature(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    expected = github_signature(secret, body).encode("ascii")
    return hmac.compare_digest(expected, _as_bytes(header.strip()))


def verify_gitlab_token(expected: str, header: str | None) -> bool:
    if not expected or header is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), _as_bytes(header))


def _as_bytes(value: str) -> bytes:
    return value.encode("utf-8", "replace")
