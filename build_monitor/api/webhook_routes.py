"""`POST /api/webhooks/{github,gitlab}`: verify, decide, record, answer; the outbox relays."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from build_monitor.api.body import BodyRejected, read_bounded_body
from build_monitor.api.context import AppContext
from build_monitor.api.outbox import store_delivery
from build_monitor.api.schemas import WebhookReply
from build_monitor.api.secrets import SecretUnavailable
from build_monitor.errors import BuildMonitorError
from build_monitor.history.models import utcnow
from build_monitor.webhooks.events import PUSH_EVENT
from build_monitor.webhooks.intake import CREDENTIAL_HEADER, Delivery, judge_delivery
from build_monitor.webhooks.payloads import Forge, PayloadError, check_content_type

logger = logging.getLogger("build_monitor.api.webhooks")
router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": WebhookReply, "description": text}
    for code, text in {
        200: "ping answered, or a redelivery of an accepted delivery",
        202: "accepted (a build-monitor.push event follows) or acknowledged and ignored",
        400: "malformed body or headers",
        401: "missing or wrong signature / token",
        413: "body over [webhooks] max_body_bytes",
        415: "unsupported content type",
        503: "cannot record the delivery or read the secret now; the forge should retry",
    }.items()
}
_EVENT_HEADER: dict[Forge, str] = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event"}
_DELIVERY_HEADERS: dict[Forge, tuple[str, ...]] = {
    "github": ("X-GitHub-Delivery",),
    "gitlab": ("Idempotency-Key", "X-Gitlab-Event-UUID"),
}


def _reply(status: int, reply: WebhookReply) -> JSONResponse:
    return JSONResponse(status_code=status, content=reply.model_dump())


async def receive_delivery(forge: Forge, request: Request) -> JSONResponse:
    ctx: AppContext = request.app.state.ctx
    headers = request.headers
    try:
        check_content_type(headers.get("content-type"))
        body = await read_bounded_body(request, ctx.webhooks.max_body_bytes)
    except (PayloadError, BodyRejected) as exc:
        return _reply(exc.status, WebhookReply(outcome="rejected", reason=exc.message))
    try:
        forge_secret, watched = await ctx.watched_repos(forge)
    except SecretUnavailable as exc:
        logger.warning("%s webhook refused: %s", forge, exc)
        return _reply(503, WebhookReply(outcome="rejected", reason="webhook secret unavailable"))

    delivery_header = next((headers[h] for h in _DELIVERY_HEADERS[forge] if h in headers), None)
    delivery = Delivery(
        forge=forge,
        event=headers.get(_EVENT_HEADER[forge]),
        delivery_id=delivery_header,
        content_type=headers.get("content-type"),
        body=body,
        credential=headers.get(CREDENTIAL_HEADER[forge]),
    )
    verdict = judge_delivery(delivery, watched, forge_secret=forge_secret, occurred=utcnow())
    reply = WebhookReply(
        outcome=verdict.outcome,
        reason=verdict.reason,
        delivery=verdict.delivery_id,
        services=list(verdict.services),
    )
    if verdict.outcome != "accepted":
        if verdict.status == 401:
            logger.warning("%s webhook rejected: %s", forge, verdict.reason)
        return _reply(verdict.status, reply)

    try:
        row_id = await anyio.to_thread.run_sync(
            lambda: store_delivery(
                ctx.database_url,
                forge=forge,
                delivery_id=verdict.delivery_id,
                event=PUSH_EVENT,
                services=verdict.services,
                events=verdict.events,
            )
        )
    except (SQLAlchemyError, BuildMonitorError, OSError) as exc:
        logger.error("cannot record %s delivery %s: %s", forge, verdict.delivery_id, exc)
        reply.outcome, reply.reason = "rejected", "cannot record the delivery now; retry later"
        return _reply(503, reply)
    if row_id is None:
        reply.reason = "delivery already accepted; not acted on again"
        reply.outcome = "duplicate"
        return _reply(200, reply)
    ctx.relay.notify(row_id)
    return _reply(202, reply)


@router.post("/github", responses=_RESPONSES, summary="GitHub push webhook")
async def github_webhook(request: Request) -> JSONResponse:
    """Verifies `X-Hub-Signature-256`; acts on `push`, answers `ping`, ignores other events."""
    return await receive_delivery("github", request)


@router.post("/gitlab", responses=_RESPONSES, summary="GitLab push webhook")
async def gitlab_webhook(request: Request) -> JSONResponse:
    """Checks `X-Gitlab-Token`; acts on `Push Hook`, ignores other events."""
    return await receive_delivery("gitlab", request)
