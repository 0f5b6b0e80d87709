"""The whole decision on one delivery, from raw request parts to an HTTP answer and the Prefect
events to emit. Pure: secrets come in already resolved, time comes in as an argument.

Which secret verifies a delivery: the secrets of the services whose repository the payload names
(each service's own override, else the forge-wide secret); for a repository no service watches,
the forge-wide secret. A push acts only on services whose own secret signed it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from build_monitor.webhooks.events import push_event
from build_monitor.webhooks.matching import (
    WatchedRepo,
    services_for_branch,
    services_for_repository,
)
from build_monitor.webhooks.payloads import (
    Forge,
    PayloadError,
    PushEvent,
    check_content_type,
    decode_payload,
    parse_github_push,
    parse_gitlab_push,
    repository_urls,
)
from build_monitor.webhooks.signatures import verify_github_signature, verify_gitlab_token

WebhookOutcome = Literal["accepted", "ignored", "pong", "rejected"]
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
CREDENTIAL_HEADER: dict[Forge, str] = {
    "github": "X-Hub-Signature-256",
    "gitlab": "X-Gitlab-Token",
}


@dataclass(frozen=True)
class Delivery:
    forge: Forge
    event: str | None
    delivery_id: str | None
    content_type: str | None
    body: bytes
    credential: str | None


@dataclass(frozen=True)
class Verdict:
    status: int
    outcome: WebhookOutcome
    reason: str
    delivery_id: str
    services: tuple[str, ...] = ()
    events: tuple[dict[str, Any], ...] = field(default=(), repr=False)


def delivery_key(header_value: str | None, body: bytes) -> str:
    """The forge's delivery id when it is a sane token, else one derived from the body (a
    redelivery repeats the body, so it still deduplicates)."""
    if header_value and _DELIVERY_ID.fullmatch(header_value):
        return header_value
    return "sha256-" + hashlib.sha256(body).hexdigest()


def judge_delivery(
    delivery: Delivery,
    watched: Sequence[WatchedRepo],
    *,
    forge_secret: str | None,
    occurred: datetime,
) -> Verdict:
    delivery_id = delivery_key(delivery.delivery_id, delivery.body)

    def verdict(status: int, outcome: WebhookOutcome, reason: str) -> Verdict:
        return Verdict(status=status, outcome=outcome, reason=reason, delivery_id=delivery_id)

    try:
        check_content_type(delivery.content_type)
    except PayloadError as exc:
        return verdict(exc.status, "rejected", exc.message)

    data: dict[str, Any] | None = None
    payload_error: PayloadError | None = None
    try:
        data = decode_payload(delivery.content_type, delivery.body)
    except PayloadError as exc:
        payload_error = exc

    repo_targets = services_for_repository(repository_urls(delivery.forge, data or {}), watched)
    candidates = _candidate_secrets(repo_targets, forge_secret)
    verified = {s for s in candidates if _verifies(delivery, s)}
    if not verified:
        return verdict(401, "rejected", _auth_failure(delivery.forge, candidates))
    if payload_error is not None or data is None:
        error = payload_error or PayloadError(400, "body is not valid JSON")
        return verdict(error.status, "rejected", error.message)

    kind = _event_kind(delivery)
    if kind == "missing":
        header = "X-GitHub-Event" if delivery.forge == "github" else "X-Gitlab-Event"
        return verdict(400, "rejected", f"missing {header} header")
    if kind == "ping":
        return verdict(200, "pong", "pong")
    if kind != "push":
        return verdict(202, "ignored", f"{delivery.event!r} events are not acted on")

    try:
        push = parse_github_push(data) if delivery.forge == "github" else parse_gitlab_push(data)
    except PayloadError as exc:
        return verdict(exc.status, "rejected", exc.message)
    return _judge_push(push, repo_targets, verified, delivery_id, occurred)


def _judge_push(
    push: PushEvent,
    repo_targets: Sequence[WatchedRepo],
    verified: set[str],
    delivery_id: str,
    occurred: datetime,
) -> Verdict:
    def ignored(reason: str) -> Verdict:
        return Verdict(status=202, outcome="ignored", reason=reason, delivery_id=delivery_id)

    if push.is_tag:
        return ignored(
            f"tag {'deletion' if push.is_deletion else 'push'} {push.ref!r}: nothing to do"
        )
    if push.branch is None:
        return ignored(f"ref {push.ref!r} is not a branch")
    if push.is_deletion:
        return ignored(f"branch {push.branch!r} was deleted: nothing to build")
    if not repo_targets:
        return ignored(f"no monitored service uses repository {push.repository!r}")
    branch_targets = services_for_branch(push.branch, repo_targets)
    if not branch_targets:
        monitored = ", ".join(sorted({t.branch for t in repo_targets}))
        return ignored(
            f"branch {push.branch!r} of {push.repository!r} is not monitored "
            f"(monitored: {monitored})"
        )
    acting = [t for t in branch_targets if t.secret is not None and t.secret in verified]
    if not acting:
        names = ", ".join(t.service for t in branch_targets)
        return Verdict(
            status=401,
            outcome="rejected",
            reason=f"the signature does not match the webhook secret of service {names}",
            delivery_id=delivery_id,
        )
    services = tuple(t.service for t in acting)
    events = tuple(
        push_event(push, service=name, delivery_id=delivery_id, occurred=occurred)
        for name in services
    )
    return Verdict(
        status=202,
        outcome="accepted",
        reason=f"push of {push.after} to {push.branch!r} accepted for {', '.join(services)}",
        delivery_id=delivery_id,
        services=services,
        events=events,
    )


def _candidate_secrets(repo_targets: Sequence[WatchedRepo], forge_secret: str | None) -> set[str]:
    if repo_targets:
        return {t.secret for t in repo_targets if t.secret}
    return {forge_secret} if forge_secret else set()


def _verifies(delivery: Delivery, secret: str) -> bool:
    if delivery.forge == "github":
        return verify_github_signature(secret, delivery.body, delivery.credential)
    return verify_gitlab_token(secret, delivery.credential)


def _auth_failure(forge: Forge, candidates: set[str]) -> str:
    if not candidates:
        return f"no {forge} webhook secret is configured for this repository"
    return f"missing or invalid {CREDENTIAL_HEADER[forge]} header"


def _event_kind(delivery: Delivery) -> Literal["push", "ping", "other", "missing"]:
    event = (delivery.event or "").strip()
    if not event:
        return "missing"
    if delivery.forge == "github":
        return "push" if event == "push" else "ping" if event == "ping" else "other"
    return "push" if event == "Push Hook" else "other"
