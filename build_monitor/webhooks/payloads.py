"""Decoding a delivery body and reading the push fields build-monitor needs from it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

Forge = Literal["github", "gitlab"]
NULL_SHA = re.compile(r"^0+$")
OBJECT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"


class PayloadError(Exception):
    """The body cannot be used; `status` is the HTTP answer (400 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None) -> None:
    if media_type(content_type) not in ("application/json", "application/x-www-form-urlencoded"):
        shown = media_type(content_type) or "none"
        raise PayloadError(
            415,
            f"unsupported content type {shown[:100]!r}: send application/json "
            "or application/x-www-form-urlencoded with a 'payload' field",
        )


def decode_payload(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The JSON object of a delivery, sent as JSON or as GitHub's form-encoded `payload=`."""
    check_content_type(content_type)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(400, "body is not UTF-8") from None
    if media_type(content_type) == "application/x-www-form-urlencoded":
        fields = parse_qs(text, keep_blank_values=True)
        if len(fields.get("payload", [])) != 1:
            raise PayloadError(400, "form-encoded body needs exactly one 'payload' field")
        text = fields["payload"][0]
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise PayloadError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise PayloadError(400, "body must be a JSON object")
    return data


@dataclass(frozen=True)
class PushEvent:
    forge: Forge
    ref: str
    # None for a ref that did not exist before (new branch) / no longer exists (deletion).
    before: str | None
    after: str | None
    repository: str
    repository_urls: tuple[str, ...]
    pusher: str
    commit_count: int
    compare_url: str | None
    forced: bool

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix(BRANCH_PREFIX) if self.ref.startswith(BRANCH_PREFIX) else None

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith(TAG_PREFIX)

    @property
    def is_deletion(self) -> bool:
        return self.after is None


def repository_urls(forge: Forge, data: dict[str, Any]) -> tuple[str, ...]:
    """Every URL the payload gives for its repository, in any form."""
    keys: list[tuple[str, tuple[str, ...]]]
    if forge == "github":
        keys = [("repository", ("clone_url", "ssh_url", "git_url", "html_url", "svn_url", "url"))]
    else:
        keys = [
            ("project", ("git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url", "url")),
            ("repository", ("git_http_url", "git_ssh_url", "homepage", "url")),
        ]
    urls: list[str] = []
    for section, fields in keys:
        block = data.get(section)
        if not isinstance(block, dict):
            continue
        for field in fields:
            value = block.get(field)
            if isinstance(value, str) and value and value not in urls:
                urls.append(value)
    return tuple(urls)


def parse_github_push(data: dict[str, Any]) -> PushEvent:
    repository = data.get("repository")
    if not isinstance(repository, dict):
        raise PayloadError(400, "push payload has no 'repository' object")
    pusher = data.get("pusher")
    sender = data.get("sender")
    pusher_name = _text(pusher, "name") or _text(sender, "login") or "unknown"
    return PushEvent(
        forge="github",
        ref=_required_ref(data),
        before=_object_id(data, "before"),
        after=_object_id(data, "after"),
        repository=_text(repository, "full_name") or _text(repository, "name") or "unknown",
        repository_urls=repository_urls("github", data),
        pusher=pusher_name,
        commit_count=len(data["commits"]) if isinstance(data.get("commits"), list) else 0,
        compare_url=_text(data, "compare"),
        forced=data.get("forced") is True,
    )


def parse_gitlab_push(data: dict[str, Any]) -> PushEvent:
    project = data.get("project")
    if not isinstance(project, dict) and not isinstance(data.get("repository"), dict):
        raise PayloadError(400, "push payload has no 'project' or 'repository' object")
    total = data.get("total_commits_count")
    commits = data.get("commits")
    if isinstance(total, int) and not isinstance(total, bool):
        count = total
    else:
        count = len(commits) if isinstance(commits, list) else 0
    return PushEvent(
        forge="gitlab",
        ref=_required_ref(data),
        before=_object_id(data, "before"),
        after=_object_id(data, "after"),
        repository=_text(project, "path_with_namespace") or _text(project, "name") or "unknown",
        repository_urls=repository_urls("gitlab", data),
        pusher=_text(data, "user_username") or _text(data, "user_name") or "unknown",
        commit_count=count
        if count is not None
        else len(commits)
        if isinstance(commits, list)
        else 0,
        compare_url=None,
        forced=False,
    )


def _text(block: Any, key: str) -> str | None:
    if not isinstance(block, dict):
        return None
    value = block.get(key)
    return value if isinstance(value, str) and value else None


def _required_ref(data: dict[str, Any]) -> str:
    ref = data.get("ref")
    if not isinstance(ref, str) or not ref or len(ref) > 1024:
        raise PayloadError(400, "push payload has no valid 'ref'")
    return ref


def _object_id(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if not isinstance(value, str) or not (OBJECT_ID.fullmatch(value) or NULL_SHA.fullmatch(value)):
        raise PayloadError(400, f"push payload field {key!r} is not a commit id")
    return None if NULL_SHA.fullmatch(value) else value
