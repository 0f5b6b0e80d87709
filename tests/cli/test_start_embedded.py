"""`build-monitor start` on the README's default: no PREFECT_API_URL anywhere, so build-monitor
starts its own local Prefect server. A signed push must become a monitor run, an authorised API
rollback a rollback run, and `test-notification` must find blocks on that same server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from build_monitor.history.db import session_scope
from build_monitor.history.models import Build
from tests.cli.test_cli import cli_path
from tests.cli.test_start import free_port, prefect_reachable, push_new_commit, wait_for
from tests.configs import service_table, write_config
from tests.http_receiver import Receiver
from tests.repo_fixtures import SampleRepoFactory
from tests.webhooks.fixtures import GITHUB_SECRET

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
API_TOKEN = "embedded-test-api-token"


def _embedded_environment(data_dir: Path) -> dict[str, str]:
    """The user's environment as the README assumes it: no Prefect API configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        BUILD_MONITOR_DATA_DIR=str(data_dir),
        PREFECT_HOME=str(data_dir / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        GH_SECRET=GITHUB_SECRET,
        BM_API_TOKEN=API_TOKEN,
    )
    return env


def _local_api_url(data_dir: Path) -> str | None:
    try:
        return str(json.loads((data_dir / "prefect" / "server.json").read_text())["api_url"])
    except (OSError, ValueError, KeyError):
        return None


def _flow_runs(api_url: str, flow_name: str) -> list[dict[str, Any]]:
    reply = httpx.post(
        f"{api_url}/flow_runs/filter",
        json={"flows": {"name": {"any_": [flow_name]}}, "limit": 50},
        timeout=10,
    )
    reply.raise_for_status()
    return list(reply.json())


def test_embedded_default_turns_pushes_rollbacks_and_test_notifications_into_prefect_work(
    sample_repo: SampleRepoFactory,
    tmp_path: Path,
    receiver: Receiver,
) -> None:
    repo = sample_repo("good", good_commits=1)
    port = free_port()
    data_dir = tmp_path / "user-data"
    config = write_config(
        tmp_path,
        service_table(repo, name="embedded", builder="local", health=False)
        + '\n[services.rollback]\nstrategy = "revert"\n',
        extra=(
            f"[server]\nport = {port}\n\n"
            '[webhooks]\ngithub_secret = { env = "GH_SECRET" }\n\n'
            '[api]\ntoken = { env = "BM_API_TOKEN" }\n\n'
            '[[notifications]]\nname = "team"\nchannel = "slack"\nblock = "embedded-slack"\n'
        ),
    )
    env = _embedded_environment(data_dir)
    log_path = tmp_path / "start.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [cli_path(), "start", "--config", str(config)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    api_url: str | None = None
    try:
        wait_for(
            lambda: prefect_reachable(base),
            timeout=150,
            what="the API to report its local Prefect server",
        )
        api_url = _local_api_url(data_dir)
        assert api_url, "build-monitor start did not record the local Prefect server it started"

        before, after = push_new_commit(base, repo, delivery="embedded-1")

        def pushed_build() -> bool:
            with session_scope(f"sqlite:///{tmp_path / 'history.db'}") as session:
                return any(
                    b.commit == after and b.trigger == "webhook" and b.status.value == "passed"
                    for b in session.query(Build).all()
                )

        wait_for(pushed_build, timeout=180, what="the pushed commit to be built by a push run")
        monitor_runs = _flow_runs(api_url, "monitor")
        assert any(run["parameters"].get("trigger") == "webhook" for run in monitor_runs), [
            run["parameters"] for run in monitor_runs
        ]

        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        refused = httpx.post(
            f"{base}/api/services/embedded/rollback",
            json={"reason": "an emergency redeploy of a local service cannot work"},
            headers=auth,
            timeout=30,
        )
        assert refused.status_code == 422, refused.text
        assert "needs builder = 'docker'" in refused.json()["detail"]

        started = httpx.post(
            f"{base}/api/services/embedded/rollback",
            json={"commit": before, "reason": "embedded default test"},
            headers=auth,
            timeout=30,
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["flow_run_id"]

        def rollback_state() -> str | None:
            state = httpx.get(f"{api_url}/flow_runs/{run_id}", timeout=10).json()["state"]
            final = state is not None and state["type"] in {"COMPLETED", "FAILED", "CRASHED"}
            return str(state["type"]) if final else None

        assert wait_for(rollback_state, timeout=240, what="the API rollback run") == "COMPLETED"
        assert [run["id"] for run in _flow_runs(api_url, "rollback")] == [run_id]
        revert_branches = subprocess.run(
            ["git", "-C", str(repo.path), "branch", "--list", "build-monitor/revert-*"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert revert_branches, "the rollback pushed no tested revert"

        _save_slack_block(api_url, receiver.url("/hook-SECRET"))
        notified = subprocess.run(
            [cli_path(), "test-notification", "--channel", "team", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert notified.returncode == 0, notified.stdout + notified.stderr
        assert [request.path for request in receiver.requests] == ["/hook-SECRET"]
        assert "Traceback" not in notified.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            exit_code = process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        log.close()
    output = log_path.read_text()
    assert exit_code == 0, output[-3000:]
    assert "Traceback" not in output and "could not emit" not in output, output[-3000:]
    assert api_url is not None
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api_url}/health", timeout=2)


def _save_slack_block(api_url: str, url: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks.slack import SlackWebhook

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        SlackWebhook(url=SecretStr(url)).save("embedded-slack", overwrite=True)
