"""Strategy `redeploy` on real Docker: the live container `bm-<service>` is replaced by the
good image with a start-then-stop handover, verified on the live port, and restored when a
later step fails or the process running it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from build_monitor.builders.docker import COMMIT_LABEL
from build_monitor.builders.result import StepResult
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build, BuildStatus, Rollback
from build_monitor.rollback import live_container
from tests.rollback.helpers import (
    DockerService,
    built_docker_service,
    clear_live,
    live,
    live_revision,
    service_containers,
)

pytestmark = [pytest.mark.docker, pytest.mark.prefect]


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    prefect_api_url: str,
    rust_image: str,
    docker_client: docker.DockerClient,
) -> Iterator[DockerService]:
    """A sample service with images built for its two good commits and its broken one."""
    with built_docker_service(
        tmp_path_factory.mktemp("redeploy"), rust_image, docker_client, good_commits=2
    ) as built:
        yield built


@pytest.fixture
def no_live(service: DockerService, docker_client: docker.DockerClient) -> Iterator[None]:
    """No live container or live tag before and after the test."""
    clear_live(docker_client, service.name)
    yield
    clear_live(docker_client, service.name)


def test_rollback_replaces_the_live_container_and_is_idempotent(
    service: DockerService, docker_client: docker.DockerClient, no_live: None
) -> None:
    first, second = service.good
    code, deployed = service.cli("deploy", service.name, "--commit", second)
    assert (code, deployed["status"]) == (0, "succeeded"), deployed
    assert live_revision(service.port) == 2

    code, outcome = service.cli("rollback", service.name, first[:12], "revision 2 misbehaves")
    assert (code, outcome["status"]) == (0, "succeeded"), outcome
    assert (outcome["from"], outcome["to"], outcome["strategy"]) == (second, first, "redeploy")
    assert outcome["verification"]["status"] == "passed"
    assert [s["name"] for s in outcome["steps"]] == [
        "check_candidate",
        "move_live_tag",
        "hand_over",
        "verify_live",
    ]
    assert live_revision(service.port) == 1
    container = live(docker_client, service.name)
    assert container.labels[COMMIT_LABEL] == first
    assert docker_client.images.get(live_container.live_tag(service.name)).id == (
        docker_client.images.get(f"build-monitor/{service.name}:{first}").id
    )
    # The old container was removed once the new one was verified.
    assert service_containers(docker_client, service.name) == [f"bm-{service.name}"]

    code, again = service.cli("rollback", service.name, first[:12], "revision 2 misbehaves")
    assert (code, again["status"]) == (0, "noop"), again
    assert live(docker_client, service.name).id == container.id

    code, history = service.cli("history", service.name)
    assert code == 0
    rollbacks = history["rollbacks"]
    assert [r["status"] for r in rollbacks] == ["noop", "succeeded", "succeeded"]
    assert [r["action"] for r in rollbacks] == ["rollback", "rollback", "deploy"]
    assert rollbacks[1]["reason"] == "revision 2 misbehaves"
    assert rollbacks[1]["triggered_by"]
    assert "builds" in history


def test_a_new_container_failing_its_health_check_leaves_the_old_one_serving(
    service: DockerService, docker_client: docker.DockerClient, no_live: None
) -> None:
    """A commit that passed CI but answers 500 at runtime is never handed the live port."""
    _, second = service.good
    assert service.cli("deploy", service.name, "--commit", second)[0] == 0
    before = live(docker_client, service.name).id
    with session_scope(service.database_url) as session:
        for build in session.query(Build).filter(Build.commit == service.broken):
            build.status = BuildStatus.passed  # as if it had passed CI
            session.add(build)
    try:
        code, outcome = service.cli("deploy", service.name, "--commit", service.broken)
    finally:
        with session_scope(service.database_url) as session:
            for build in session.query(Build).filter(Build.commit == service.broken):
                build.status = BuildStatus.failed
                session.add(build)
    assert (code, outcome["status"]) == (1, "failed"), outcome
    assert "failed its health check" in str(outcome["error"])
    assert live(docker_client, service.name).id == before
    assert live_revision(service.port) == 2
    assert service_containers(docker_client, service.name) == [f"bm-{service.name}"]


def test_a_target_without_a_passing_build_is_refused(
    service: DockerService, docker_client: docker.DockerClient, no_live: None
) -> None:
    _, second = service.good
    assert service.cli("deploy", service.name, "--commit", second)[0] == 0
    code, outcome = service.cli("rollback", service.name, service.broken, "try the broken one")
    assert (code, outcome["status"]) == (3, "refused"), outcome
    assert "target_passes" in str(outcome["error"])
    assert outcome["steps"] == []
    assert live_revision(service.port) == 2


def test_a_commit_not_on_the_branch_is_bad_input(service: DockerService, no_live: None) -> None:
    from typer.testing import CliRunner

    from build_monitor.cli import app

    result = CliRunner().invoke(
        app,
        ["rollback", service.name, "0" * 40, "nope", "--config", str(service.config)],
    )
    assert result.exit_code == 2
    assert "error: unknown commit" in result.output
    assert "internal error" not in result.output


def test_a_failure_after_the_handover_restores_the_old_container(
    service: DockerService,
    docker_client: docker.DockerClient,
    no_live: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Raising in a late step: the transaction's hooks put the old container back."""
    first, second = service.good
    assert service.cli("deploy", service.name, "--commit", second)[0] == 0
    before = live(docker_client, service.name).id
    tag_before = docker_client.images.get(live_container.live_tag(service.name)).id
    real_check = live_container.check_live_health
    calls = {"n": 0}

    def failing_first_check(client: docker.DockerClient, config: object) -> StepResult:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected failure while verifying")
        return real_check(client, config)  # type: ignore[arg-type]

    monkeypatch.setattr(live_container, "check_live_health", failing_first_check)
    code, outcome = service.cli("rollback", service.name, first, "injected failure")
    assert (code, outcome["status"]) == (1, "failed"), outcome
    steps = {s["name"]: s["status"] for s in outcome["steps"]}
    assert steps["hand_over"] == "undone"
    assert steps["move_live_tag"] == "undone"
    assert steps["check_restored"] == "done"
    assert live(docker_client, service.name).id == before
    assert docker_client.images.get(live_container.live_tag(service.name)).id == tag_before
    assert live_revision(service.port) == 2
    assert service_containers(docker_client, service.name) == [f"bm-{service.name}"]


def test_emergency_rollback_of_a_cached_image_takes_seconds(
    service: DockerService, docker_client: docker.DockerClient, no_live: None
) -> None:
    first, second = service.good
    assert service.cli("deploy", service.name, "--commit", second)[0] == 0
    started = time.monotonic()
    code, outcome = service.cli("emergency-rollback", service.name, "--reason", "pager")
    elapsed = time.monotonic() - started
    assert (code, outcome["status"], outcome["to"]) == (0, "succeeded", first), outcome
    assert live_revision(service.port, timeout=1) == 1
    print(
        f"\nemergency rollback (CLI, cached image): {elapsed:.2f}s; flow: {outcome['duration_s']}s"
    )
    assert elapsed < 30


def test_strategy_both_redeploys_and_pushes_a_tested_revert(
    service: DockerService, docker_client: docker.DockerClient, no_live: None
) -> None:
    code, first = service.cli("deploy", service.name, "--commit", service.good[0])
    assert (code, first["status"]) == (0, "succeeded"), first
    code, outcome = service.cli(
        "rollback",
        service.name,
        service.good[1],
        "health broke",
        "--culprit",
        service.broken,
        "--strategy",
        "both",
    )
    assert (code, outcome["status"]) == (0, "succeeded"), (outcome["error"], outcome["steps"])
    assert outcome["strategy"] == "both"
    branch = f"build-monitor/revert-{service.broken[:12]}"
    assert outcome["pushed_ref"] == branch
    assert live(docker_client, service.name).labels[COMMIT_LABEL] == service.good[1]
    assert live_revision(service.port) == 2
    pushed = subprocess.run(
        ["git", "rev-parse", f"refs/heads/{branch}"],
        cwd=service.repo.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert pushed == outcome["revert_commit"]
    subprocess.run(["git", "branch", "-D", branch], cwd=service.repo.path, check=True)


# Last in this module: the killed run keeps the service's rollback concurrency slot on the test
# server until its 60 s lease runs out, which would refuse any later rollback of this service.
_KILLING_DRIVER = textwrap.dedent(
    """
    import os, signal, sys
    from build_monitor.rollback import live_container
    from build_monitor.cli import app

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    live_container.check_live_health = die
    sys.argv = ["build-monitor", *sys.argv[1:]]
    app()
    """
)


def test_a_killed_worker_is_undone_by_the_next_run(
    service: DockerService,
    docker_client: docker.DockerClient,
    no_live: None,
    tmp_path: Path,
    prefect_api_url: str,
) -> None:
    first, second = service.good
    assert service.cli("deploy", service.name, "--commit", second)[0] == 0
    before = live(docker_client, service.name).id
    driver = tmp_path / "driver.py"
    driver.write_text(_KILLING_DRIVER)
    completed = subprocess.run(
        [
            sys.executable,
            str(driver),
            "rollback",
            service.name,
            first,
            "killed mid-way",
            "--config",
            str(service.config),
        ],
        capture_output=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PREFECT_API_URL": prefect_api_url},
        check=False,
    )
    assert completed.returncode == -signal.SIGKILL, completed.stderr.decode()[-2000:]
    # Killed between the handover and its verification: the new container serves.
    assert live(docker_client, service.name).id != before
    with session_scope(service.database_url) as session:
        killed = session.query(Rollback).filter(Rollback.reason == "killed mid-way").one()
        assert killed.status == "running"
    started = time.monotonic()
    code, outcome = service.cli("deploy", service.name, "--commit", second, "--dry-run")
    assert (code, outcome["status"]) == (0, "dry_run"), outcome
    assert time.monotonic() - started < 60
    assert live(docker_client, service.name).id == before
    assert live_revision(service.port) == 2
    with session_scope(service.database_url) as session:
        killed = session.query(Rollback).filter(Rollback.reason == "killed mid-way").one()
        assert killed.status == "interrupted"
    assert service_containers(docker_client, service.name) == [f"bm-{service.name}"]
