"""The shared-secret signature a custom webhook receiver checks."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Build-Monitor-Signature"


def sign_body(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>`, the GitHub convention."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign_body(secret, body), header)
