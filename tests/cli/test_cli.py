"""The CLI as users and scripts drive it: CliRunner in-process and the installed entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from build_monitor.cli import app
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def cli_path() -> str:
    found = shutil.which("build-monitor", path=str(Path(sys.executable).parent))
    assert found, "the package must install a build-monitor command"
    return found


@pytest.fixture
def config(sample_repo: SampleRepoFactory, tmp_path: Path) -> Path:
    repo = sample_repo("good", good_commits=1)
    other = sample_repo("compile_error", good_commits=1)
    return write_config(
        tmp_path,
        service_table(repo, name="alpha", builder="local"),
        service_table(other, name="beta", builder="docker"),
    )


def test_list_json_shows_every_service_with_state(config: Path) -> None:
    code, out, _ = invoke("list", "--config", str(config), "--json")
    assert code == 0
    services = json.loads(out)["services"]
    assert [(s["name"], s["state"], s["last_build"]) for s in services] == [
        ("alpha", "unknown", None),
        ("beta", "unknown", None),
    ]


def test_status_json_contract(config: Path) -> None:
    code, out, _ = invoke("status", "--config", str(config), "--json")
    document = json.loads(out)
    assert code == 0
    assert document["overall"] == "unknown"
    assert {s["name"] for s in document["services"]} == {"alpha", "beta"}
    assert set(document["prefect_api"]) == {"url", "source"}


def test_history_of_a_service_without_builds(config: Path) -> None:
    code, out, _ = invoke("history", "alpha", "--config", str(config), "--json", "--limit", "5")
    assert (code, json.loads(out)) == (
        0,
        {"service": "alpha", "builds": [], "bisections": [], "rollbacks": []},
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "gamma"], "unknown service 'gamma' (known: alpha, beta)"),
        (["history", "Bad Name"], "invalid service name"),
        (["check", "alpha", "--commit", "--upload-pack=x"], "invalid git ref"),
        (["check", "alpha", "--commit", "main;id"], "invalid git ref"),
        (["check", "nope"], "unknown service 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(
    config: Path, args: list[str], message: str
) -> None:
    code, out, err = invoke(*args, "--config", str(config))
    assert code == 2
    assert message in err
    assert "Traceback" not in out + err


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = invoke("list", "--config", str(tmp_path / "absent.toml"))
    assert code == 2
    assert f"config file not found: {tmp_path / 'absent.toml'}" in err


def test_invalid_config_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[services]]\nname = "a"\nrepo = "/r"\nbuilder = "podman"\n')
    code, _, err = invoke("status", "--config", str(path))
    assert code == 2
    assert str(path) in err and "services[0] (a).builder" in err
    assert "Traceback" not in err


def test_every_data_command_takes_json() -> None:
    for command in ("list", "status", "history", "check", "monitor", "demo"):
        code, out, _ = invoke(command, "--help")
        assert code == 0 and "--json" in out, command


@pytest.mark.prefect
def test_installed_command_checks_a_commit_and_prints_only_json(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("test_failure", good_commits=1)
    config = write_config(tmp_path, service_table(repo, name="svc", builder="local"))
    completed = subprocess.run(
        [cli_path(), "check", "svc", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PREFECT_API_URL": prefect_api_url},
    )
    assert completed.returncode == 1, completed.stderr
    report = json.loads(completed.stdout)
    assert report["status"] == "failed" and report["stage"] == "test"
    assert report["commit"] == repo.commits[-1]
    assert report["flow_run_url"].endswith(report["flow_run_id"])
    assert "Traceback" not in completed.stderr


def test_installed_command_bad_input_no_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [cli_path(), "history", "x", "--config", str(tmp_path / "none.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "config file not found" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.prefect
def test_demo_with_the_local_builder_detects_the_break(
    prefect_api_url: str, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["demo", "--builder", "local", "--dir", str(tmp_path / "demo"), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["baseline"]["status"] == "passed"
    assert document["head"]["status"] == "failed"
    assert document["head"]["stage"] == "test"
    assert document["state"] == "failing"
    assert document["flow_run_url"].startswith(document["prefect_ui"])
    assert document["bisection"]["culprit"] == document["expected_culprit"]
    rollback = document["bisection"]["rollback"]
    assert (rollback["strategy"], rollback["status"]) == ("revert", "succeeded")
    assert rollback["verification"]["status"] == "passed"


@pytest.mark.docker
@pytest.mark.prefect
def test_demo_uses_docker_when_an_engine_answers(
    prefect_api_url: str,
    rust_image: str,
    docker_client: Any,
    docker_service_name: str,
    tmp_path: Path,
) -> None:
    # Under a name of its own: a user's demo (`bm-sample-svc`) is never replaced or removed.
    completed = subprocess.run(
        [
            cli_path(),
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--service",
            docker_service_name,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PREFECT_API_URL": prefect_api_url},
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["builder"] == "docker"
    assert (document["head"]["status"], document["head"]["stage"]) == ("failed", "test")
    assert document["service"] == docker_service_name
    assert document["baseline"]["image"].startswith(f"build-monitor/{docker_service_name}:")
    assert document["bisection"]["culprit"] == document["expected_culprit"]
    rollback = document["bisection"]["rollback"]
    assert (rollback["strategy"], rollback["status"]) == ("redeploy", "succeeded")
    live = docker_client.containers.get(f"bm-{docker_service_name}")
    baseline_tag = f"build-monitor/{docker_service_name}:{document['baseline']['commit']}"
    assert baseline_tag in live.image.tags
    assert live.status == "running"


@pytest.mark.prefect
@pytest.mark.parametrize(
    ("kill_signal", "exit_code", "status", "attempts"),
    [("KILL", 2, "error", 2), ("SEGV", 1, "failed", 1)],
    ids=["sigkill-is-the-machine", "sigsegv-is-the-commit"],
)
def test_a_test_process_killed_by_sigkill_is_an_error_retried_and_never_blamed(
    prefect_api_url: str,
    sample_repo: SampleRepoFactory,
    tmp_path: Path,
    kill_signal: str,
    exit_code: int,
    status: str,
    attempts: int,
) -> None:
    repo = sample_repo("good", good_commits=1)
    # The test command kills itself, as the OOM killer would (SIGKILL) or a crash does.
    local = {
        "build_command": "cargo build --release",
        "test_command": f"sh -c 'kill -{kill_signal} $$'",
    }
    config = write_config(
        tmp_path, service_table(repo, name="svc", builder="local", health=False, local=local)
    )
    code, out, err = invoke("check", "svc", "--config", str(config), "--json")
    assert code == exit_code, err
    report = json.loads(out)
    assert (report["status"], report["attempts"]) == (status, attempts)
    if status == "error":
        assert report["stage"] is None and "SIGKILL" in report["signature"]
    else:
        assert report["stage"] == "test"
    history = json.loads(invoke("list", "--config", str(config), "--json")[1])["services"][0]
    assert history["state"] == ("unknown" if status == "error" else "failing")
