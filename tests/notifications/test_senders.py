"""The blocks and the SMTP sender against real receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from pydantic import SecretStr

from blocks.custom_webhook import CustomWebhook
from blocks.discord import DiscordWebhook
from blocks.slack import SlackWebhook
from build_monitor.notifications.compose import compose_plain
from build_monitor.notifications.render import render_email, render_slack
from build_monitor.notifications.retry import DeliveryError, RetryPolicy, send_with_retries
from build_monitor.notifications.signing import SIGNATURE_HEADER, sign_body
from build_monitor.notifications.smtp import send_email, smtp_settings_from_env
from tests.notifications.conftest import Receiver, SmtpServer, free_port


def test_slack_block_posts_block_kit_with_a_text_fallback(receiver: Receiver) -> None:
    SlackWebhook(url=SecretStr(receiver.url("/slack/T0/B0/x"))).notify("All good", "Hello")
    [request] = receiver.at("/slack/T0/B0/x")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "text": "Hello: All good",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Hello"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "All good"}},
        ],
    }


def test_discord_block_posts_an_embed_with_content(receiver: Receiver) -> None:
    DiscordWebhook(url=SecretStr(receiver.url("/discord/1/abc"))).notify("Body <b>", "Subj")
    [request] = receiver.at("/discord/1/abc")
    assert request.json == {
        "content": "**Subj**: Body <b>",
        "embeds": [{"title": "Subj", "description": "Body <b>", "color": 0x0366D6, "fields": []}],
        "allowed_mentions": {"parse": []},
    }


def test_a_refusal_raises_with_the_receivers_status_and_no_url(receiver: Receiver) -> None:
    receiver.script("/slack/secret-token", (404, {}, "no_service {path}"))
    block = SlackWebhook(url=SecretStr(receiver.url("/slack/secret-token")))
    with pytest.raises(DeliveryError) as caught:
        block.notify("x")
    assert caught.value.status_code == 404 and not caught.value.retryable
    assert str(caught.value) == "Slack answered HTTP 404: no_service ***"


def test_429_with_retry_after_then_200_waits_as_told(receiver: Receiver) -> None:
    receiver.script("/s", (429, {"Retry-After": "1"}, "slow down"), (200, {}, "ok"))
    client = SlackWebhook(url=SecretStr(receiver.url("/s"))).get_client()
    started = time.monotonic()
    attempts = send_with_retries(
        lambda timeout: client.deliver({"text": "hi"}, timeout=timeout), RetryPolicy(jitter=0)
    )
    assert attempts == 2 and len(receiver.at("/s")) == 2
    assert 1.0 <= time.monotonic() - started < 3


def test_500_then_200_is_retried(receiver: Receiver) -> None:
    receiver.script("/d", (500, {}, "oops"), (204, {}, ""))
    client = DiscordWebhook(url=SecretStr(receiver.url("/d"))).get_client()
    policy = RetryPolicy(base_delay_seconds=0.05)
    assert send_with_retries(lambda t: client.deliver({"content": "hi"}, timeout=t), policy) == 2


def test_a_permanent_404_is_tried_once(receiver: Receiver) -> None:
    receiver.script("/gone", (404, {}, "unknown webhook"))
    client = DiscordWebhook(url=SecretStr(receiver.url("/gone"))).get_client()
    with pytest.raises(DeliveryError) as caught:
        send_with_retries(lambda t: client.deliver({"content": "x"}, timeout=t), RetryPolicy())
    assert caught.value.attempts == 1 and len(receiver.at("/gone")) == 1


def test_connection_refused_is_retryable_and_names_no_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook-secret-path"
    with pytest.raises(DeliveryError) as caught:
        SlackWebhook(url=SecretStr(url)).get_client().deliver({"text": "x"}, timeout=2)
    assert caught.value.retryable and "hook-secret-path" not in str(caught.value)
    assert str(caught.value).startswith("Slack unreachable (ConnectError")


def test_custom_webhook_signs_the_raw_body(receiver: Receiver) -> None:
    block = CustomWebhook(
        url=SecretStr(receiver.url("/hook")),
        secret=SecretStr("shared-secret"),
        headers={"Authorization": "Bearer tok"},  # type: ignore[arg-type]
    )
    block.notify("body", "subject")
    [request] = receiver.at("/hook")
    assert request.headers[SIGNATURE_HEADER] == sign_body("shared-secret", request.body)
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.json["title"] == "subject" and request.json["event"] is None


def test_transport_is_injectable() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    payload = render_slack(compose_plain("b", "s"))
    client = SlackWebhook(url=SecretStr("https://hooks.example/x")).get_client(
        transport=httpx.MockTransport(handle)
    )
    client.deliver(payload)
    assert [str(r.url) for r in seen] == ["https://hooks.example/x"]


def test_email_over_smtp_with_login_plain_text_and_html(smtp_server: SmtpServer) -> None:
    smtp = smtp_settings_from_env(smtp_server.env())
    assert smtp is not None
    message = render_email(
        compose_plain("The build broke.", "build failed"),
        from_address="bm@example.com",
        to=["dev@example.com", "ops@example.com"],
    )
    send_email(smtp, message, timeout=5)
    [received] = smtp_server.messages
    assert received["Subject"] == "[build-monitor] build failed"
    assert received["From"] == "bm@example.com"
    assert received["To"] == "dev@example.com, ops@example.com"
    plain, html = received.get_body(("plain",)), received.get_body(("html",))
    assert plain is not None and html is not None
    text = plain.get_content().replace("\r\n", "\n")
    assert text.startswith("build failed\n\nThe build broke.\n")
    assert "<h2>build failed</h2>" in html.get_content()
    assert smtp_server.collector.envelopes == [
        ("bm@example.com", ["dev@example.com", "ops@example.com"])
    ]


def test_a_refused_recipient_is_permanent_and_names_the_code(smtp_server: SmtpServer) -> None:
    smtp = smtp_settings_from_env(smtp_server.env())
    assert smtp is not None
    message = render_email(compose_plain("x", None), from_address="a@b.c", to=["nobody@b.c"])
    with pytest.raises(DeliveryError) as caught:
        send_email(smtp, message, timeout=5)
    assert caught.value.status_code == 550 and not caught.value.retryable
    assert str(caught.value) == "SMTP server refused recipients: nobody@b.c (550)"
    assert smtp_server.messages == []


def test_notify_from_async_code_returns_a_coroutine_that_delivers(receiver: Receiver) -> None:
    """Prefect's automations `await block.notify(...)`; sync callers just call it."""
    block = SlackWebhook(url=SecretStr(receiver.url("/async-slack")))

    async def from_async() -> None:
        await block.notify("From async", "Hi")  # type: ignore[misc]

    asyncio.run(from_async())
    [request] = receiver.at("/async-slack")
    assert request.json["text"] == "Hi: From async"
