"""`build-monitor check` end to end: real git, real cargo or Docker, a real Prefect server.

Each scenario repository's head is checked with each builder; the status, stage, signature and
exit code must be the ones a user expects."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from typer.testing import CliRunner

from build_monitor.builders.docker import SERVICE_LABEL
from build_monitor.cli import app
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory

EXPECTED = {
    "good": ("passed", None, 0),
    "compile_error": ("failed", "build", 1),
    "test_failure": ("failed", "test", 1),
    "health_failure": ("failed", "health", 1),
}


def remove_service_artifacts(client: docker.DockerClient, service: str) -> None:
    for container in client.containers.list(
        all=True, filters={"label": f"{SERVICE_LABEL}={service}"}
    ):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    for image in client.images.list(filters={"label": f"{SERVICE_LABEL}={service}"}):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.remove(image.id, force=True)


@pytest.fixture
def service_name(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    yield name
    if "docker" in request.node.keywords:
        remove_service_artifacts(request.getfixturevalue("docker_client"), name)


def run_check(config: Path, service: str, *extra: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(
        app, ["check", service, "--config", str(config), "--json", *extra], catch_exceptions=False
    )
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.prefect
@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_local_builder_check(
    scenario: str,
    prefect_api_url: str,
    sample_repo: SampleRepoFactory,
    tmp_path: Path,
    service_name: str,
) -> None:
    repo = sample_repo(scenario, good_commits=1)
    config = write_config(tmp_path, service_table(repo, name=service_name, builder="local"))
    exit_code, report = run_check(config, service_name)
    status, stage, expected_exit = EXPECTED[scenario]
    assert (report["status"], report["stage"], exit_code) == (status, stage, expected_exit)
    assert report["commit"] == repo.commits[-1]
    assert report["signature"] == repo.expected_signature
    assert isinstance(report["duration_s"], float)
    assert report["service"] == service_name


@pytest.mark.docker
@pytest.mark.prefect
@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_docker_builder_check(
    scenario: str,
    prefect_api_url: str,
    rust_image: str,
    docker_client: docker.DockerClient,
    sample_repo: SampleRepoFactory,
    tmp_path: Path,
    service_name: str,
) -> None:
    repo = sample_repo(scenario, good_commits=1)
    config = write_config(
        tmp_path, service_table(repo, name=service_name, builder="docker", rust_image=rust_image)
    )
    exit_code, report = run_check(config, service_name)
    status, stage, expected_exit = EXPECTED[scenario]
    assert (report["status"], report["stage"], exit_code) == (status, stage, expected_exit)
    assert report["signature"] == repo.expected_signature
    image = f"build-monitor/{service_name}:{repo.commits[-1]}"
    if stage in (None, "health"):
        labels = docker_client.images.get(image).labels
        assert labels[SERVICE_LABEL] == service_name
        assert labels["build-monitor.commit"] == repo.commits[-1]
    # The health check always removes what it started.
    assert (
        docker_client.containers.list(
            all=True, filters={"label": f"{SERVICE_LABEL}={service_name}"}
        )
        == []
    )


@pytest.mark.prefect
def test_check_a_given_commit_records_history(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path, service_name: str
) -> None:
    repo = sample_repo("compile_error", good_commits=2)
    config = write_config(tmp_path, service_table(repo, name=service_name, builder="local"))
    exit_code, report = run_check(config, service_name, "--commit", repo.commits[0][:12])
    assert (exit_code, report["status"], report["commit"]) == (0, "passed", repo.commits[0])
    history = CliRunner().invoke(app, ["history", service_name, "--config", str(config), "--json"])
    builds = json.loads(history.stdout)["builds"]
    assert [b["commit"] for b in builds] == [repo.commits[0]]
    with session_scope(f"sqlite:///{tmp_path / 'history.db'}") as session:
        stored = session.get(Build, builds[0]["build_id"])
        assert stored is not None and stored.flow_run_id == report["flow_run_id"]


@pytest.mark.prefect
def test_docker_engine_unreachable_is_an_infrastructure_error(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path, service_name: str
) -> None:
    """A dead engine is the machine's fault: status `error`, exit 2, retried `retries` times."""
    from prefect_docker import DockerHost

    repo = sample_repo("good", good_commits=1)
    block = f"dead-engine-{uuid.uuid4().hex[:6]}"
    DockerHost(base_url=f"unix://{tmp_path}/no-such-docker.sock").save(block)
    config = write_config(
        tmp_path,
        service_table(repo, name=service_name, builder="docker", retries=1),
        extra=f'[docker]\nhost_block = "{block}"\n',
    )
    exit_code, report = run_check(config, service_name)
    assert (exit_code, report["status"], report["stage"]) == (2, "error", None)
    assert "docker engine unreachable" in str(report["signature"])
    assert report["attempts"] == 2
