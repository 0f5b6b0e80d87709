"""`build-monitor test-notification` per channel, and notify() inside a real flow run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect import flow
from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import SecretStr
from typer.testing import CliRunner

import build_monitor.cli.notification_commands  # noqa: F401  (registers the command)
from blocks.slack import SlackWebhook
from build_monitor.cli.app import app
from build_monitor.notifications.events import NotificationEvent
from flows.notifying import notify
from tests.notifications.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    Receiver,
    SmtpServer,
    free_port,
    make_config,
)

SLACK = "/services/T1/B1/cli-slack-SECRET"
DISCORD = "/api/webhooks/9/cli-discord-SECRET"
HOOK = "/hook/cli-SECRET"


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
database_url = "sqlite:///{tmp_path / "history.db"}"

[[notifications]]
name = "team-slack"
channel = "slack"

[[notifications]]
name = "ops-mail"
channel = "email"
to = ["ops@example.com"]
from_address = "monitor@example.com"
"""
    )
    return path


def write_entry_config(tmp_path: Path, entry: str) -> Path:
    """A config.toml with one [[notifications]] entry (its TOML lines)."""
    path = tmp_path / "config.toml"
    database = f"sqlite:///{tmp_path / 'history.db'}"
    path.write_text(f'[storage]\ndatabase_url = "{database}"\n\n[[notifications]]\n{entry}\n')
    return path


@pytest.fixture
def cli_env(receiver: Receiver, smtp_server: SmtpServer) -> dict[str, str]:
    return {
        "SLACK_WEBHOOK_URL": receiver.url(SLACK),
        "DISCORD_WEBHOOK_URL": receiver.url(DISCORD),
        "BUILD_MONITOR_WEBHOOK_URL": receiver.url(HOOK),
        **smtp_server.env(),
    }


@pytest.mark.parametrize("channel", ["slack", "team-slack", "discord", "webhook", "email"])
def test_test_notification_sends_through_each_channel(
    tmp_path: Path,
    channel: str,
    receiver: Receiver,
    smtp_server: SmtpServer,
    cli_env: dict[str, str],
) -> None:
    config = write_config(tmp_path)
    args = ["test-notification", "--channel", channel, "--message", "hello from CI"]
    result = CliRunner().invoke(app, [*args, "--config", str(config), "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "sent" and document["attempts"] == 1
    if channel == "email":
        [mail] = smtp_server.messages
        assert mail["To"] == "ops@example.com" and mail["From"] == "monitor@example.com"
        assert "hello from CI" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    else:
        [request] = receiver.requests
        assert "hello from CI" in request.body.decode()
    for secret in (*cli_env.values(), SMTP_PASSWORD):
        if "SECRET" in secret or secret == SMTP_PASSWORD:
            assert secret not in result.output


def test_a_refused_test_message_exits_1_with_the_status(
    tmp_path: Path, receiver: Receiver, cli_env: dict[str, str]
) -> None:
    receiver.script(SLACK, (404, {}, "no_service"))
    args = ["test-notification", "--channel", "slack", "--config", str(write_config(tmp_path))]
    result = CliRunner().invoke(app, args, env=cli_env)
    assert result.exit_code == 1
    assert "error: team-slack (slack): Slack answered HTTP 404: no_service" in result.stderr
    assert "SECRET" not in result.output and len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("channel", "env", "message"),
    [
        ("irc", {}, "unknown channel 'irc'"),
        ("discord", {}, 'has no block: set `block = "NAME"`'),
        ("email", {"SMTP_SERVER": "127.0.0.1", "SMTP_TYPE": "tls"}, "SMTP_TYPE must be one of"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(
    tmp_path: Path, channel: str, env: dict[str, str], message: str
) -> None:
    args = ["test-notification", "--channel", channel, "--config", str(write_config(tmp_path))]
    result = CliRunner().invoke(app, args, env={"DISCORD_WEBHOOK_URL": "", **env})
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.prefect
def test_test_notification_delivers_through_a_block_saved_on_the_prefect_api(
    prefect_api_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    SlackWebhook(url=SecretStr(receiver.url("/cli-block-SECRET"))).save(
        "cli-team-slack", overwrite=True
    )
    config = write_entry_config(
        tmp_path, 'name = "chat"\nchannel = "slack"\nblock = "cli-team-slack"'
    )
    args = ["test-notification", "--channel", "chat", "--message", "via the block"]
    # The settings in this thread point at a dead API: only $PREFECT_API_URL, which the
    # command's `prefect_api()` picks up, leads to the saved block.
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        result = CliRunner().invoke(
            app,
            [*args, "--config", str(config), "--json"],
            env={"PREFECT_API_URL": prefect_api_url, "SLACK_WEBHOOK_URL": ""},
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "sent"
    [request] = receiver.at("/cli-block-SECRET")
    assert "via the block" in request.json["text"]
    assert "SECRET" not in result.output


@pytest.mark.prefect
def test_test_notification_mails_through_a_saved_email_block(
    prefect_api_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    from prefect_email import EmailServerCredentials

    EmailServerCredentials(
        smtp_server="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_type="INSECURE",
        username=SMTP_USER,
        password=SecretStr(SMTP_PASSWORD),
    ).save("cli-mail", overwrite=True)
    config = write_entry_config(
        tmp_path,
        'name = "ops-mail"\nchannel = "email"\nblock = "cli-mail"\nto = ["ops@example.com"]',
    )
    args = ["test-notification", "--channel", "ops-mail", "--message", "mailed via the block"]
    result = CliRunner().invoke(
        app, [*args, "--config", str(config)], env={"PREFECT_API_URL": prefect_api_url}
    )
    assert result.exit_code == 0, result.output
    [mail] = smtp_server.messages
    assert mail["To"] == "ops@example.com"
    assert "mailed via the block" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert SMTP_PASSWORD not in result.output


@pytest.mark.prefect
def test_a_block_that_is_not_saved_exits_2_naming_it(prefect_api_url: str, tmp_path: Path) -> None:
    config = write_entry_config(
        tmp_path, 'name = "chat"\nchannel = "discord"\nblock = "never-saved"'
    )
    args = ["test-notification", "--channel", "chat", "--config", str(config)]
    result = CliRunner().invoke(app, args, env={"PREFECT_API_URL": prefect_api_url})
    assert result.exit_code == 2, result.output
    assert "notification 'chat': cannot load block 'never-saved'" in result.stderr
    assert "prefect block register -m blocks.discord" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.prefect
def test_inside_a_flow_the_send_is_a_task_run_and_blocks_load_by_name(
    prefect_api_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    SlackWebhook(url=SecretStr(receiver.url("/saved-SECRET"))).save("team-slack", overwrite=True)
    config = make_config(
        tmp_path,
        {
            "server": {"public_ui_url": "https://ui.example"},
            "notifications": [{"name": "s", "channel": "slack", "block": "team-slack"}],
        },
    )

    @flow
    def failing_build() -> tuple[list[str], str]:
        from prefect.runtime import flow_run

        results = notify(
            NotificationEvent(event="build_failed", service="api", commit="a" * 40),
            config=config,
            environ={},
        )
        return [r.status for r in results], str(flow_run.id)

    statuses, run_id = failing_build()
    assert statuses == ["sent"]
    [request] = receiver.at("/saved-SECRET")
    button = request.json["blocks"][-2]["elements"][0]
    assert button["url"] == f"https://ui.example/runs/flow-run/{run_id}"

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))  # type: ignore[list-item]
        )
    assert [t.name for t in task_runs] == ["send-s"]
    assert task_runs[0].state is not None and task_runs[0].state.is_completed()
