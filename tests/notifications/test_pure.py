"""The pure core: messages, renderers, retry decisions, routing."""

from __future__ import annotations

import shlex
import subprocess
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from build_monitor.errors import InvalidInputError
from build_monitor.notifications.compose import (
    HeldEvent,
    compose,
    compose_summary,
    shell_quote,
    tail_lines,
)
from build_monitor.notifications.config import ALL_EVENTS, NotificationConfig
from build_monitor.notifications.events import CulpritInfo, NotificationEvent, RollbackInfo
from build_monitor.notifications.links import flow_run_url, ui_base_url
from build_monitor.notifications.redact import redact
from build_monitor.notifications.render import render_discord, render_slack, render_text
from build_monitor.notifications.retry import (
    DeliveryError,
    RetryPolicy,
    parse_retry_after,
    send_with_retries,
)
from build_monitor.notifications.routing import routes_for, select_entry
from build_monitor.notifications.signing import sign_body, verify_signature

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"
GOOD = "fedcba9876543210fedcba9876543210fedcba98"


def failed_event(**overrides: object) -> NotificationEvent:
    data: dict[str, object] = {
        "event": "build_failed",
        "service": "api",
        "commit": SHA,
        "author": "Ann <ann@example.com>",
        "subject": "Use the new parser",
        "branch": "main",
        "stage": "build",
        "signature": "E0308 mismatched types",
        "log_excerpt": "\n".join(f"line {i}" for i in range(20)),
        "occurred_at": AT,
    }
    data.update(overrides)
    return NotificationEvent.model_validate(data)


def test_slack_block_kit_for_a_failed_build() -> None:
    message = compose(failed_event(), flow_run_url="http://ui/runs/flow-run/1", log_lines=2)
    assert render_slack(message) == {
        "text": "build failed: api at 01234567: The build of api failed at commit 01234567 "
        "(Ann &lt;ann@example.com&gt;, Use the new parser). Next: Read the log above and fix "
        "forward on main; a bisect will name the culprit.",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "build failed: api at 01234567"},
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "The build of api failed at commit 01234567 "
                    "(Ann &lt;ann@example.com&gt;, Use the new parser).",
                },
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Service*\napi"},
                    {"type": "mrkdwn", "text": "*Commit*\n01234567"},
                    {"type": "mrkdwn", "text": "*Author*\nAnn &lt;ann@example.com&gt;"},
                    {"type": "mrkdwn", "text": "*Subject*\nUse the new parser"},
                    {"type": "mrkdwn", "text": "*Branch*\nmain"},
                    {"type": "mrkdwn", "text": "*Stage*\nbuild"},
                    {"type": "mrkdwn", "text": "*Signature*\nE0308 mismatched types"},
                ],
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "```line 18\nline 19```"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open flow run"},
                        "url": "http://ui/runs/flow-run/1",
                    }
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Next:* Read the log above and fix forward on main; "
                    "a bisect will name the culprit.",
                },
            },
        ],
    }


def test_discord_embed_for_a_culprit_suggests_the_exact_rollback() -> None:
    event = failed_event(
        event="culprit_found",
        log_excerpt=None,
        culprit=CulpritInfo(commit=SHA, author="Ann", subject='Say "hi"', last_good_commit=GOOD),
    )
    payload = render_discord(compose(event, flow_run_url=None))
    command = f'build-monitor rollback api {GOOD} "culprit 01234567: Say \\"hi\\""'
    embed = payload["embeds"][0]
    assert (
        payload["content"]
        == '**culprit found: api at 01234567**: Commit 01234567 (Ann, Say "hi") broke api.'
    )
    assert payload["allowed_mentions"] == {"parse": []}
    assert embed["title"] == "culprit found: api at 01234567"
    assert embed["description"].endswith(f"**Next:** Roll back with: {command}")
    assert embed["color"] == 0xD73A49
    assert embed["timestamp"] == AT.isoformat()
    assert {"name": "Last good", "value": "fedcba98", "inline": True} in embed["fields"]
    assert shlex.split(command)[-1] == 'culprit 01234567: Say "hi"'


@pytest.mark.parametrize("name", ALL_EVENTS)
def test_every_event_says_what_which_service_which_commit_and_what_next(name: str) -> None:
    event = failed_event(
        event=name,
        culprit=CulpritInfo(commit=SHA, last_good_commit=GOOD),
        rollback=RollbackInfo(from_commit=SHA, to_commit=GOOD, strategy="redeploy", reason="bad"),
        candidates=[SHA, GOOD],
    )
    text = render_text(compose(event, flow_run_url="http://ui/runs/flow-run/9"))
    assert "api" in text and "01234567" in text
    assert "Flow run: http://ui/runs/flow-run/9" in text
    assert "\nNext: " in text
    if name == "rollback_failed":
        assert f'build-monitor rollback api {GOOD} "bad"' in text


@settings(max_examples=40, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_characters="\n\r\x00", blacklist_categories=["Cs"]))
)
def test_shell_quote_round_trips_through_bash(text: str) -> None:
    script = f"printf %s {shell_quote(text)}"
    result = subprocess.run(["bash", "-c", script], capture_output=True, timeout=10, check=True)
    assert result.stdout.decode("utf-8", "surrogateescape") == text


def test_tail_lines_keeps_the_last_lines_and_clips_long_ones() -> None:
    assert tail_lines("a\nb\nc\n", 2) == "b\nc"
    assert tail_lines("x" * 500, 1) == "x" * 199 + "…"
    assert tail_lines("a", 0) is None


def test_summary_counts_what_was_held_back() -> None:
    held = [HeldEvent("build_recovered", SHA, AT), HeldEvent("build_failed", GOOD, AT)]
    message = compose_summary("api", held, 300)
    assert message.headline == (
        "2 more events for api were held back during the 300 s quiet period; "
        "the latest is build_failed."
    )
    assert message.extra_lines[1] == "2025-01-02 03:04:05 UTC  build_failed  fedcba98"


def test_dedup_key_is_per_event_service_commit_and_rollback_target() -> None:
    assert failed_event().dedup_key == f"build_failed:api:{SHA}"
    rollback = failed_event(event="rollback_started", rollback=RollbackInfo(to_commit=GOOD))
    assert rollback.dedup_key == f"rollback_started:api:{SHA}:{GOOD}"


def test_retry_after_in_seconds_and_as_a_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Thu, 02 Jan 2025 03:04:15 GMT", now=AT) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(*errors: DeliveryError | None) -> tuple[list[float], object]:
    timeouts: list[float] = []
    queue = list(errors)

    def send(timeout: float) -> None:
        timeouts.append(timeout)
        error = queue.pop(0) if queue else None
        if error is not None:
            raise error

    return timeouts, send


def test_retries_transient_failures_and_honours_retry_after() -> None:
    fake = FakeTime()
    _, send = scripted(
        DeliveryError("429", status_code=429, retryable=True, retry_after=7),
        DeliveryError("503", status_code=503, retryable=True),
        None,
    )
    attempts = send_with_retries(send, RetryPolicy(jitter=0), sleep=fake.sleep, clock=fake.clock)  # type: ignore[arg-type]
    assert attempts == 3
    assert fake.sleeps == [7, 2.0]


def test_a_client_error_is_not_retried() -> None:
    fake = FakeTime()
    _, send = scripted(DeliveryError("404", status_code=404, retryable=False))
    with pytest.raises(DeliveryError) as caught:
        send_with_retries(send, RetryPolicy(), sleep=fake.sleep, clock=fake.clock)  # type: ignore[arg-type]
    assert caught.value.attempts == 1 and fake.sleeps == []


def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    fake = FakeTime()
    _, send = scripted(DeliveryError("429", status_code=429, retryable=True, retry_after=3600))
    with pytest.raises(DeliveryError, match="past the retry budget"):
        send_with_retries(send, RetryPolicy(), sleep=fake.sleep, clock=fake.clock)  # type: ignore[arg-type]
    assert fake.sleeps == []


@given(
    budget=st.floats(min_value=0, max_value=60),
    timeout=st.floats(min_value=0.5, max_value=20),
    attempts=st.integers(min_value=1, max_value=10),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
)
def test_a_channel_that_stays_down_costs_at_most_the_budget(
    budget: float, timeout: float, attempts: int, retry_after: float | None
) -> None:
    fake = FakeTime()

    def send(attempt_timeout: float) -> None:
        fake.now += attempt_timeout  # every attempt hangs until its timeout
        raise DeliveryError("down", retryable=True, retry_after=retry_after)

    policy = RetryPolicy(max_attempts=attempts, timeout_seconds=timeout, budget_seconds=budget)
    with pytest.raises(DeliveryError):
        send_with_retries(send, policy, sleep=fake.sleep, clock=fake.clock)
    assert fake.now <= max(budget, timeout) + 0.5 + 1e-6


def test_routing_by_event_and_service_and_the_service_override() -> None:
    entries = [
        NotificationConfig(name="all", channel="slack"),
        NotificationConfig(name="api-only", channel="discord", services=["api"]),
        NotificationConfig(name="rollbacks", channel="webhook", events=["rollback_failed"]),
    ]
    names = lambda **kw: [e.name for e in routes_for(entries=entries, **kw)]  # noqa: E731
    assert names(event="build_failed", service="api", service_routes=None) == ["all", "api-only"]
    assert names(event="build_failed", service="web", service_routes=None) == ["all"]
    assert names(event="rollback_failed", service="web", service_routes=None) == [
        "all",
        "rollbacks",
    ]
    assert names(event="build_failed", service="web", service_routes=["api-only"]) == ["api-only"]


def test_select_entry_by_name_kind_or_env_and_refuses_unknown() -> None:
    entries = [NotificationConfig(name="team", channel="slack")]
    assert select_entry("team", entries).name == "team"
    assert select_entry("slack", entries).name == "team"
    assert select_entry("discord", entries).channel == "discord"
    with pytest.raises(InvalidInputError, match="unknown channel 'irc'"):
        select_entry("irc", entries)
    with pytest.raises(InvalidInputError, match="no email entry"):
        select_entry("email", entries)


def test_email_entry_needs_recipients() -> None:
    with pytest.raises(ValueError, match="needs `to"):
        NotificationConfig(name="mail", channel="email")


def test_ui_links_prefer_the_public_url_and_never_carry_credentials() -> None:
    base = ui_base_url(
        public_ui_url=None, prefect_ui_url=None, prefect_api_url="http://u:p@h:4200/api"
    )
    assert base == "http://h:4200"
    assert flow_run_url(base, "abc") == "http://h:4200/runs/flow-run/abc"
    assert (
        ui_base_url(public_ui_url="https://ui/", prefect_ui_url="x", prefect_api_url=None)
        == "https://ui"
    )


def test_signature_and_redaction() -> None:
    assert verify_signature("k", b"{}", sign_body("k", b"{}"))
    assert not verify_signature("k", b"{}", sign_body("other", b"{}"))
    url = "https://hooks.example/services/T0/B0/tokentoken"
    assert redact(f"POST {url} and /services/T0/B0/tokentoken", [url]) == "POST *** and ***"
