"""notify(): routing to real receivers, the ledger (dedup, quiet period), failures, secrets."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from build_monitor.config import Config
from build_monitor.history.db import session_scope
from build_monitor.history.models import NotificationRecord
from build_monitor.notifications.config import ALL_EVENTS
from build_monitor.notifications.dispatch import flush_held_back, notify
from build_monitor.notifications.events import CulpritInfo, NotificationEvent, RollbackInfo
from build_monitor.notifications.ledger import channel_health
from build_monitor.notifications.signing import SIGNATURE_HEADER, verify_signature
from tests.notifications.conftest import SMTP_PASSWORD, Receiver, SmtpServer, free_port, make_config

SHA = "0123456789abcdef0123456789abcdef01234567"
GOOD = "fedcba9876543210fedcba9876543210fedcba98"
SLACK_PATH = "/services/T0SLACK/B0SLACK/slacktokenSECRET1"
DISCORD_PATH = "/api/webhooks/123/discordtokenSECRET2"
HOOK_PATH = "/hook/webhookSECRET3"
HOOK_SECRET = "hmac-shared-SECRET4"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def environ(receiver: Receiver, smtp: SmtpServer | None = None) -> dict[str, str]:
    env = {
        "SLACK_WEBHOOK_URL": receiver.url(SLACK_PATH),
        "DISCORD_WEBHOOK_URL": receiver.url(DISCORD_PATH),
        "BUILD_MONITOR_WEBHOOK_URL": receiver.url(HOOK_PATH),
        "BUILD_MONITOR_WEBHOOK_SECRET": HOOK_SECRET,
    }
    return {**env, **(smtp.env() if smtp else {})}


def all_channels(tmp_path: Path, *, quiet: float = 0, **extra: Any) -> Config:
    common = {"quiet_period_seconds": quiet, **extra}
    return make_config(
        tmp_path,
        {
            "server": {"public_ui_url": "https://prefect.example"},
            "services": [{"name": "api", "repo": "https://example.com/api.git"}],
            "notifications": [
                {"name": "team-slack", "channel": "slack", **common},
                {"name": "team-discord", "channel": "discord", **common},
                {"name": "hook", "channel": "webhook", **common},
                {"name": "mail", "channel": "email", "to": ["dev@example.com"], **common},
            ],
        },
    )


def event(name: str = "build_failed", commit: str = SHA, **extra: Any) -> NotificationEvent:
    return NotificationEvent.model_validate(
        {
            "event": name,
            "service": "api",
            "commit": commit,
            "author": "Ann",
            "subject": "Change things",
            "stage": "test",
            "signature": "test parse::roundtrip panicked",
            "log_excerpt": "running 3 tests\nthread 'roundtrip' panicked\nFAILED",
            "flow_run_id": "run-1",
            "culprit": CulpritInfo(commit=commit, last_good_commit=GOOD),
            "rollback": RollbackInfo(from_commit=commit, to_commit=GOOD, reason="broken"),
            **extra,
        }
    )


def records(config: Config) -> list[NotificationRecord]:
    with session_scope(config.database_url) as session:
        return list(
            session.exec(select(NotificationRecord).order_by(col(NotificationRecord.id))).all()
        )


def test_every_event_reaches_every_channel_kind(
    tmp_path: Path, receiver: Receiver, smtp_server: SmtpServer
) -> None:
    config = all_channels(tmp_path)
    env = environ(receiver, smtp_server)
    for name in ALL_EVENTS:
        results = notify(event(name), config=config, environ=env)
        assert sorted((r.channel, r.status) for r in results) == [
            ("hook", "sent"),
            ("mail", "sent"),
            ("team-discord", "sent"),
            ("team-slack", "sent"),
        ], results
    slack = [r.json for r in receiver.at(SLACK_PATH)]
    discord = [r.json for r in receiver.at(DISCORD_PATH)]
    hooks = receiver.at(HOOK_PATH)
    assert len(slack) == len(discord) == len(hooks) == len(smtp_server.messages) == 7
    for name, payload in zip(ALL_EVENTS, slack, strict=True):
        assert payload["blocks"][0]["text"]["text"] == f"{name.replace('_', ' ')}: api at 01234567"
        button = payload["blocks"][-2]["elements"][0]
        assert button["url"] == "https://prefect.example/runs/flow-run/run-1"
    assert [d["embeds"][0]["title"].split(":")[0] for d in discord] == [
        n.replace("_", " ") for n in ALL_EVENTS
    ]
    for name, request in zip(ALL_EVENTS, hooks, strict=True):
        assert verify_signature(HOOK_SECRET, request.body, request.headers[SIGNATURE_HEADER])
        assert request.json["event"]["event"] == name and request.json["kind"] == name
    rollback_mail = smtp_server.messages[-1]
    assert rollback_mail["Subject"] == "[build-monitor] rollback failed: api at 01234567"
    body = rollback_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f'build-monitor rollback api {GOOD} "broken"' in body
    assert "thread 'roundtrip' panicked" in body
    assert {r.status for r in records(config)} == {"sent"}


def test_the_same_event_for_the_same_commit_is_sent_once_per_channel(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = make_config(tmp_path, {"notifications": [{"name": "s", "channel": "slack"}]})
    env = environ(receiver)
    assert [r.status for r in notify(event(), config=config, environ=env)] == ["sent"]
    assert [r.status for r in notify(event(), config=config, environ=env)] == ["duplicate"]
    assert [r.status for r in notify(event("culprit_found"), config=config, environ=env)] == [
        "sent"
    ]
    assert len(receiver.at(SLACK_PATH)) == 2


def test_a_flapping_service_is_held_back_then_summarised(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = make_config(
        tmp_path,
        {"notifications": [{"name": "s", "channel": "slack", "quiet_period_seconds": 300}]},
    )
    env, clock = environ(receiver), Clock()

    def send(name: str, commit: str) -> list[str]:
        return [
            r.status for r in notify(event(name, commit), config=config, environ=env, clock=clock)
        ]

    assert send("build_failed", "a" * 40) == ["sent"]
    clock.now = T0 + timedelta(seconds=60)
    assert send("build_recovered", "b" * 40) == ["suppressed"]
    clock.now = T0 + timedelta(seconds=120)
    assert send("build_failed", "c" * 40) == ["suppressed"]
    clock.now = T0 + timedelta(seconds=130)
    assert send("culprit_found", "c" * 40) == ["sent"]  # not a flapping event: goes out at once
    clock.now = T0 + timedelta(seconds=301)
    assert send("build_recovered", "d" * 40) == ["sent", "sent"]  # the summary, then the event
    texts = [r.json["text"] for r in receiver.at(SLACK_PATH)]
    assert len(texts) == 4
    assert texts[2].startswith(
        "2 held back: api: 2 more events for api were held back during the 300 s quiet period"
    )
    summary_blocks = receiver.at(SLACK_PATH)[2].json["blocks"]
    assert "build_recovered  bbbbbbbb" in summary_blocks[3]["text"]["text"]
    assert texts[3].startswith("build recovered: api at dddddddd")
    assert [r.status for r in records(config)] == [
        "sent",
        "suppressed",
        "suppressed",
        "sent",
        "sent",
        "sent",
    ]
    clock.now = T0 + timedelta(seconds=2000)
    assert flush_held_back(config=config, environ=env, clock=clock) == []  # nothing left over


def test_a_summary_is_sent_by_flush_when_no_new_event_comes(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = make_config(
        tmp_path, {"notifications": [{"name": "s", "channel": "slack", "quiet_period_seconds": 60}]}
    )
    env, clock = environ(receiver), Clock()
    notify(event("build_failed", "a" * 40), config=config, environ=env, clock=clock)
    notify(event("build_recovered", "b" * 40), config=config, environ=env, clock=clock)
    assert flush_held_back(config=config, environ=env, clock=clock) == []  # still quiet
    clock.now = T0 + timedelta(seconds=61)
    [result] = flush_held_back(config=config, environ=env, clock=clock)
    assert result.status == "sent" and result.event == "held_back_summary"
    assert "1 more event for api was held back" in receiver.at(SLACK_PATH)[-1].json["text"]


def test_a_down_channel_costs_little_is_recorded_and_shows_in_health(
    tmp_path: Path, receiver: Receiver
) -> None:
    down = f"http://127.0.0.1:{free_port()}/down-SECRET5"
    config = make_config(
        tmp_path,
        {
            "notifications": [
                {"name": "down", "channel": "discord", "retry_budget_seconds": 2},
                {"name": "up", "channel": "slack"},
            ]
        },
    )
    env = {**environ(receiver), "DISCORD_WEBHOOK_URL": down}
    started = time.monotonic()
    results = {r.channel: r for r in notify(event(), config=config, environ=env)}
    first_cost = time.monotonic() - started
    assert results["up"].status == "sent"
    assert results["down"].status == "failed" and results["down"].attempts >= 2
    assert results["down"].detail.startswith("Discord unreachable (ConnectError")  # type: ignore[union-attr]
    assert first_cost < 3.5
    started = time.monotonic()
    again = {r.channel: r for r in notify(event("culprit_found"), config=config, environ=env)}
    assert again["down"].attempts == 1  # failed recently: one attempt, no retries
    assert time.monotonic() - started < 1.0
    with session_scope(config.database_url) as session:
        health = {h.channel: h for h in channel_health(session)}
    assert health["down"].failing and not health["up"].failing
    assert health["down"].last_failure_detail.startswith("Discord unreachable")  # type: ignore[union-attr]
    # A retried flow resends what failed, not what was sent.
    env["DISCORD_WEBHOOK_URL"] = receiver.url(DISCORD_PATH)
    statuses = {r.channel: r.status for r in notify(event(), config=config, environ=env)}
    assert statuses == {"down": "sent", "up": "duplicate"}


def test_a_missing_block_is_a_recorded_failure_not_an_exception(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"notifications": [{"name": "s", "channel": "slack"}]})
    [result] = notify(event(), config=config, environ={})
    assert result.status == "failed"
    assert result.detail == (
        "notification 's' (slack) has no block: set `block = \"NAME\"` in its "
        "[[notifications]] entry or $SLACK_WEBHOOK_URL"
    )


def test_a_broken_database_does_not_raise(tmp_path: Path, receiver: Receiver) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    config = make_config(tmp_path, {"notifications": [{"name": "s", "channel": "slack"}]})
    config.storage.database_url = f"sqlite:///{tmp_path / 'blocker' / 'db.sqlite'}"
    [result] = notify(event(), config=config, environ=environ(receiver))
    assert (result.channel, result.status) == ("*", "failed")
    assert "cannot open the history database" in (result.detail or "")


def test_no_secret_appears_in_payloads_logs_or_records(
    tmp_path: Path,
    receiver: Receiver,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.script(DISCORD_PATH, (404, {}, "unknown webhook {path}"))
    receiver.script(SLACK_PATH, (500, {}, "internal error at {path}"), (200, {}, "ok"))
    config = all_channels(tmp_path, retry_budget_seconds=3)
    env = environ(receiver, smtp_server)
    leaky = event(
        log_excerpt=f"curl -X POST {env['SLACK_WEBHOOK_URL']}\npassword={SMTP_PASSWORD}",
        subject=f"oops {env['DISCORD_WEBHOOK_URL']}",
    )
    results = notify(leaky, config=config, environ=env)
    assert {r.channel: r.status for r in results} == {
        "team-slack": "sent",
        "team-discord": "failed",
        "hook": "sent",
        "mail": "sent",
    }
    captured = [
        *(r.body.decode() for r in receiver.requests),
        *(m.as_string() for m in smtp_server.messages),
        *(record.getMessage() for record in caplog.records),
        caplog.text,
        json.dumps([r.model_dump(mode="json") for r in records(config)]),
        repr(results),
    ]
    secrets = [SLACK_PATH, DISCORD_PATH, HOOK_PATH, HOOK_SECRET, SMTP_PASSWORD, "SECRET"]
    leaks = [(s, text[:200]) for text in captured for s in secrets if s in text]
    assert leaks == []
    assert any("team-discord" in r.getMessage() for r in caplog.records)  # we did log
    assert any(r.name == "httpx" for r in caplog.records)  # and so did httpx, redacted
