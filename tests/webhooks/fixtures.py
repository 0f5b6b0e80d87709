"""Documented forge payloads (payloads/SOURCES.md) and helpers to sign them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from build_monitor.webhooks.signatures import github_signature

PAYLOADS = Path(__file__).parent / "payloads"
GITHUB_SECRET = "It's a Secret to Everybody"
GITLAB_TOKEN = "gitlab-token-for-tests"
HELLO_WORLD_REPO = "https://github.com/Codertocat/Hello-World.git"
DIASPORA_REPO = "git@example.com:mike/diaspora.git"


def payload_bytes(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(payload_bytes(name))
    return data


def github_headers(
    body: bytes,
    *,
    event: str = "push",
    delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    secret: str = GITHUB_SECRET,
    content_type: str = "application/json",
) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(secret, body),
        "User-Agent": "GitHub-Hookshot/044aadd",
    }


def gitlab_headers(
    *,
    event: str = "Push Hook",
    uuid: str = "13792a34-cac6-4fda-95a8-c58e00a3954e",
    token: str = GITLAB_TOKEN,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": uuid,
        "X-Gitlab-Token": token,
    }
