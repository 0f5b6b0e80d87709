"""The story the browser test follows, as a user runs it: a fixture service turns red, the
monitor bisects it to the culprit, a rollback reverts the culprit, the service is green again;
all through `build-monitor` commands against one Prefect server, with `build-monitor start`
serving the deployments the UI starts runs of."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from build_monitor.builders.health import free_port
from build_monitor.sample.service import SampleRepo, create_sample_service
from tests.configs import service_table, write_config

PROJECT_DIR = Path(__file__).resolve().parents[2]
SERVICE = "face-detection"
OTHER_SERVICE = "speech-to-text"  # configured, never built: a second choice in the Run form
T = TypeVar("T")


@dataclass
class Story:
    repo: SampleRepo
    remote: Path
    config: Path
    database_url: str
    api_url: str

    def cli(self, *args: str) -> dict[str, Any]:
        result = subprocess.run(
            [_cli_path(), *args, "--config", str(self.config), "--json"],
            env=self.env(),
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=900,
        )
        try:
            document: dict[str, Any] = json.loads(result.stdout)
        except json.JSONDecodeError:
            raise AssertionError(
                f"build-monitor {' '.join(args)}: exit {result.returncode}\n"
                f"{result.stdout}\n{result.stderr[-4000:]}"
            ) from None
        return document

    def env(self) -> dict[str, str]:
        return {**os.environ, "PREFECT_API_URL": self.api_url}

    def start_system(self, log_path: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [_cli_path(), "start", "--config", str(self.config)],
            env=self.env(),
            cwd=PROJECT_DIR,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _cli_path() -> str:
    return str(Path(sys.executable).parent / "build-monitor")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def create_story(directory: Path, api_url: str) -> Story:
    """A failing-test service whose rollback pushes a tested restore onto its branch, in a bare
    remote under `directory`."""
    repo = create_sample_service(
        directory / "repo", scenario="test_failure", good_commits=3, commits_after_break=0
    )
    remote = directory / "remote.git"
    git(directory, "clone", "--quiet", "--bare", str(repo.path), str(remote))
    tables = []
    for name in (SERVICE, OTHER_SERVICE):
        served = SampleRepo(
            path=remote,
            branch=repo.branch,
            commits=repo.commits,
            good=repo.good,
            culprit=repo.culprit,
            binary=repo.binary,
            expected_signature=repo.expected_signature,
        )
        tables.append(
            # A day between polls: only the story's own commands build.
            service_table(served, name=name, builder="local", poll_interval_seconds=86400)
            + '\n[services.rollback]\nstrategy = "revert"\npush_to = "branch"\n'
        )
    config = write_config(directory, *tables, extra=f"[server]\nport = {free_port()}\n")
    return Story(
        repo=repo,
        remote=remote,
        config=config,
        database_url=f"sqlite:///{directory / 'history.db'}",
        api_url=api_url,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(1)
