"""The monitor flow tells people: build_failed when a service turns red, build_recovered when it
is green again, through a real Slack-shaped receiver; a down channel does not hold up builds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from build_monitor.cli import app
from build_monitor.sample.service import add_commit
from build_monitor.sample.sources import SampleSource, render_main_rs
from flows.monitor import monitor
from tests.configs import service_table, write_config
from tests.notifications.conftest import Receiver
from tests.repo_fixtures import SampleRepoFactory

pytestmark = pytest.mark.prefect
SLACK_PATH = "/services/T0/B0/monitor-SECRET"


def test_failure_and_recovery_reach_slack_once(
    prefect_api_url: str,
    receiver: Receiver,
    sample_repo: SampleRepoFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", receiver.url(SLACK_PATH))
    repo = sample_repo("compile_error", good_commits=1, commits_after_break=0)
    routes = '[[notifications]]\nname = "chat"\nchannel = "slack"\nquiet_period_seconds = 0\n'
    config = str(
        write_config(tmp_path, service_table(repo, builder="local", health=False), extra=routes)
    )
    assert monitor(service="svc", config_path=config)["state"] == "failing"
    monitor(service="svc", config_path=config)  # nothing new: no second message
    add_commit(repo.path, "Fix the port type", {"src/main.rs": render_main_rs(SampleSource(9))})
    assert monitor(service="svc", config_path=config)["state"] == "healthy"

    texts = [r.json["text"] for r in receiver.at(SLACK_PATH)]
    assert len(texts) == 2, texts
    assert "build failed" in texts[0] and repo.commits[-1][:8] in texts[0]
    assert "error[E0308]" in str(receiver.at(SLACK_PATH)[0].json["blocks"])
    assert "recovered" in texts[1]


def test_a_down_channel_does_not_delay_the_build(
    prefect_api_url: str,
    sample_repo: SampleRepoFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.notifications.conftest import free_port

    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/down")
    repo = sample_repo("compile_error", good_commits=1, commits_after_break=0)
    routes = '[[notifications]]\nname = "chat"\nchannel = "slack"\n'
    config = str(
        write_config(tmp_path, service_table(repo, builder="local", health=False), extra=routes)
    )
    started = time.monotonic()
    result = monitor(service="svc", config_path=config)
    assert result["state"] == "failing"
    assert result["builds"][0]["status"] == "failed"  # type: ignore[index]
    # The flow waits for the retries only at its end; bounded by the channel's retry budget.
    assert time.monotonic() - started < 60
    status = CliRunner().invoke(app, ["status", "--config", config, "--json"])
    channels = json.loads(status.stdout)["notification_channels"]
    assert [(c["channel"], c["failing"]) for c in channels] == [("chat", True)]
