from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from build_monitor.api.background_server import running_server
from build_monitor.history.db import session_scope
from build_monitor.history.models import WebhookDelivery
from build_monitor.webhooks.config import SecretRef, ServiceWebhooksConfig
from build_monitor.webhooks.signatures import github_signature
from tests.api.conftest import AppFactory, CountingEmitter, make_config, wait_until
from tests.webhooks.fixtures import (
    GITHUB_SECRET,
    github_headers,
    gitlab_headers,
    payload_bytes,
)

pytestmark = pytest.mark.anyio
GITHUB = "/api/webhooks/github"
GITLAB = "/api/webhooks/gitlab"


def deliveries(database_url: str) -> list[WebhookDelivery]:
    with session_scope(database_url) as session:
        return list(session.exec(select(WebhookDelivery)).all())


async def test_signed_push_is_accepted_and_emitted_once(
    client: httpx.AsyncClient, emitter: CountingEmitter
) -> None:
    body = payload_bytes("github-push.json")
    response = await client.post(GITHUB, content=body, headers=github_headers(body))
    assert response.status_code == 202
    assert response.json()["outcome"] == "accepted"
    assert response.json()["services"] == ["hello"]
    await wait_until(lambda: len(emitter.events) == 1)
    event = emitter.events[0]
    assert event["resource"]["prefect.resource.id"] == "build-monitor.service.hello"
    assert event["payload"]["after"] == "1481a2de7b2a7d02428ad93446ab166be7793fbb"


async def test_redelivery_is_acknowledged_without_a_second_event(
    client: httpx.AsyncClient, emitter: CountingEmitter, config: object
) -> None:
    body = payload_bytes("github-push.json")
    first = await client.post(GITHUB, content=body, headers=github_headers(body))
    await wait_until(lambda: len(emitter.events) == 1)
    again = await client.post(GITHUB, content=body, headers=github_headers(body))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["outcome"] == "duplicate"
    other = await client.post(GITHUB, content=body, headers=github_headers(body, delivery="new-1"))
    assert other.status_code == 202
    await wait_until(lambda: len(emitter.events) == 2)
    assert len({e["id"] for e in emitter.events}) == 2


async def test_form_encoded_github_delivery(
    client: httpx.AsyncClient, emitter: CountingEmitter
) -> None:
    body = urlencode({"payload": payload_bytes("github-push.json").decode()}).encode()
    headers = github_headers(body, content_type="application/x-www-form-urlencoded")
    response = await client.post(GITHUB, content=body, headers=headers)
    assert response.status_code == 202
    await wait_until(lambda: len(emitter.events) == 1)


@pytest.mark.parametrize(
    ("name", "event", "status", "outcome"),
    [
        ("github-ping.json", "ping", 200, "pong"),
        ("github-push-tag.json", "push", 202, "ignored"),
        ("github-push-tag-delete.json", "push", 202, "ignored"),
        ("github-push-branch-delete.json", "push", 202, "ignored"),
        ("github-push.json", "watch", 202, "ignored"),
    ],
)
async def test_github_non_actionable_deliveries(
    client: httpx.AsyncClient,
    emitter: CountingEmitter,
    name: str,
    event: str,
    status: int,
    outcome: str,
) -> None:
    body = payload_bytes(name)
    response = await client.post(GITHUB, content=body, headers=github_headers(body, event=event))
    assert (response.status_code, response.json()["outcome"]) == (status, outcome)
    assert response.json()["reason"]
    assert emitter.attempts == 0


async def test_gitlab_push_is_accepted_and_deduplicated_by_event_uuid(
    client: httpx.AsyncClient, emitter: CountingEmitter
) -> None:
    body = payload_bytes("gitlab-push.json")
    first = await client.post(GITLAB, content=body, headers=gitlab_headers())
    second = await client.post(GITLAB, content=body, headers=gitlab_headers())
    assert (first.status_code, second.status_code) == (202, 200)
    await wait_until(lambda: len(emitter.events) == 1)
    assert emitter.events[0]["payload"]["service"] == "diaspora"


async def test_gitlab_idempotency_key_wins_over_event_uuid(client: httpx.AsyncClient) -> None:
    body = payload_bytes("gitlab-push.json")
    headers = gitlab_headers() | {"Idempotency-Key": "retry-key-1"}
    first = await client.post(GITLAB, content=body, headers=headers)
    retried = headers | {"X-Gitlab-Event-UUID": "a-different-uuid"}
    second = await client.post(GITLAB, content=body, headers=retried)
    assert first.json()["delivery"] == "retry-key-1"
    assert second.json()["outcome"] == "duplicate"


async def test_gitlab_wrong_token_and_other_events(client: httpx.AsyncClient) -> None:
    body = payload_bytes("gitlab-push.json")
    wrong = await client.post(GITLAB, content=body, headers=gitlab_headers(token="guess"))
    assert wrong.status_code == 401
    tag = await client.post(
        GITLAB,
        content=payload_bytes("gitlab-tag-push.json"),
        headers=gitlab_headers(event="Tag Push Hook"),
    )
    assert (tag.status_code, tag.json()["outcome"]) == (202, "ignored")


async def test_unmonitored_branch_is_202_with_a_reason(client: httpx.AsyncClient) -> None:
    body = payload_bytes("gitlab-push-new-branch.json")
    response = await client.post(GITLAB, content=body, headers=gitlab_headers())
    assert response.status_code == 202
    assert "not monitored" in response.json()["reason"]


@pytest.mark.parametrize("signature", [None, "sha256=deadbeef", github_signature("guess", b"{}")])
async def test_missing_or_wrong_signature_is_401_and_does_not_echo_the_secret(
    client: httpx.AsyncClient, emitter: CountingEmitter, signature: str | None
) -> None:
    body = payload_bytes("github-push.json")
    headers = github_headers(body)
    del headers["X-Hub-Signature-256"]
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = await client.post(GITHUB, content=body, headers=headers)
    assert response.status_code == 401
    assert GITHUB_SECRET not in response.text
    assert emitter.attempts == 0


async def test_bad_input_statuses(client: httpx.AsyncClient, emitter: CountingEmitter) -> None:
    bad_json = b'{"ref": "refs/heads/master",'
    response = await client.post(GITHUB, content=bad_json, headers=github_headers(bad_json))
    assert (response.status_code, response.json()["reason"]) == (400, "body is not valid JSON")
    xml = b"<push/>"
    response = await client.post(
        GITHUB, content=xml, headers=github_headers(xml, content_type="application/xml")
    )
    assert response.status_code == 415
    assert emitter.attempts == 0


async def test_oversized_body_is_413_by_content_length(client: httpx.AsyncClient) -> None:
    big = b"{" + b" " * (1024 * 1024) + b"}"
    response = await client.post(GITHUB, content=big, headers=github_headers(big))
    assert response.status_code == 413


async def test_oversized_streamed_body_is_413_without_content_length(
    client: httpx.AsyncClient,
) -> None:
    chunks_sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        for _ in range(64):
            chunks_sent += 1
            yield b" " * 65536

    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    response = await client.post(GITHUB, content=chunks(), headers=headers)
    assert response.status_code == 413
    # The server stopped reading just past the 1 MiB limit instead of taking all 4 MiB.
    assert chunks_sent <= (1024 * 1024) // 65536 + 2


async def test_no_secret_configured_rejects(app_factory: AppFactory) -> None:
    from build_monitor.webhooks.config import WebhooksConfig

    app = app_factory(webhooks=WebhooksConfig())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = payload_bytes("github-push.json")
            response = await http.post(GITHUB, content=body, headers=github_headers(body))
    assert response.status_code == 401
    assert "no github webhook secret" in response.json()["reason"]


async def test_per_service_secret_override(
    app_factory: AppFactory, emitter: CountingEmitter
) -> None:
    from build_monitor.api.secrets import CachingSecretResolver
    from tests.api.conftest import ENVIRON

    app = app_factory(
        service_webhooks={
            "hello": ServiceWebhooksConfig(github_secret=SecretRef(env="HELLO_SECRET"))
        },
        secret_resolver=CachingSecretResolver(environ=ENVIRON | {"HELLO_SECRET": "hello-only"}),
    )
    body = payload_bytes("github-push.json")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            forge_wide = await http.post(GITHUB, content=body, headers=github_headers(body))
            own = await http.post(
                GITHUB, content=body, headers=github_headers(body, secret="hello-only")
            )
        await wait_until(lambda: len(emitter.events) == 1)
    assert (forge_wide.status_code, own.status_code) == (401, 202)


async def test_prefect_unreachable_delivery_is_kept_and_emitted_exactly_once_later(
    app_factory: AppFactory, emitter: CountingEmitter, config: object
) -> None:
    emitter.failing = True
    app = app_factory()
    database_url = app.state.ctx.database_url
    body = payload_bytes("github-push.json")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post(GITHUB, content=body, headers=github_headers(body))
            assert response.status_code == 202
            await wait_until(lambda: emitter.attempts >= 3)
            assert emitter.events == []
            (row,) = deliveries(database_url)
            assert row.emitted is False
            health = (await http.get("/api/health")).json()
            assert health["status"] == "degraded" and health["pending_deliveries"] == 1

            emitter.failing = False
            await wait_until(lambda: len(emitter.events) == 1)
            await wait_until(lambda: deliveries(database_url)[0].emitted)
            attempts_after_success = emitter.attempts
            # Several sweeps (every 0.1 s) pass without emitting it again.
            await asyncio.sleep(0.5)
    assert len(emitter.events) == 1
    assert emitter.attempts == attempts_after_success


async def test_deliveries_left_unemitted_are_emitted_at_startup(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    config = make_config(tmp_path)
    dead = CountingEmitter()
    dead.failing = True
    body = payload_bytes("github-push.json")
    first_life = app_factory(config=config, emitter=dead)
    async with first_life.router.lifespan_context(first_life):
        transport = httpx.ASGITransport(app=first_life)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (
                await http.post(GITHUB, content=body, headers=github_headers(body))
            ).status_code == 202
    assert dead.events == []

    alive = CountingEmitter()
    second_life = app_factory(config=config, emitter=alive)
    async with second_life.router.lifespan_context(second_life):
        await wait_until(lambda: len(alive.events) == 1)
    assert alive.events[0]["payload"]["service"] == "hello"


async def test_database_down_means_503_so_the_forge_retries(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    from build_monitor.config import StorageConfig

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    config = make_config(tmp_path)
    config.storage = StorageConfig(database_url=f"sqlite:///{blocker}/history.db")
    app = app_factory(config=config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body = payload_bytes("github-push.json")
        response = await http.post(GITHUB, content=body, headers=github_headers(body))
        health = await http.get("/api/health")
    assert response.status_code == 503
    assert health.status_code == 503 and health.json()["database"]["ok"] is False


def test_signed_push_against_a_real_uvicorn_server(tmp_path: Path, app_factory: AppFactory) -> None:
    emitter = CountingEmitter()
    app = app_factory(config=make_config(tmp_path), emitter=emitter)
    body = payload_bytes("github-push.json")
    with running_server(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        accepted = http.post(GITHUB, content=body, headers=github_headers(body))
        duplicate = http.post(GITHUB, content=body, headers=github_headers(body))
        too_big = http.post(GITHUB, content=b" " * (2 * 1024 * 1024), headers=github_headers(b""))
        health = http.get("/api/health")
        openapi = http.get("/openapi.json")
    assert (accepted.status_code, duplicate.status_code, too_big.status_code) == (202, 200, 413)
    assert health.json()["status"] == "ok"
    assert GITHUB in openapi.json()["paths"]
    assert len(emitter.events) == 1
    assert json.dumps(emitter.events[0])
