"""Shared helpers of the rollback tests: configs with a [services.rollback] table, the CLI,
the live port, and recorded builds."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.models.containers
import httpx
from typer.testing import CliRunner

from build_monitor.builders.docker import SERVICE_LABEL
from build_monitor.builders.health import free_port
from build_monitor.cli import app
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import BuildCreate, BuildStatus
from build_monitor.rollback import live_container
from build_monitor.sample.service import SampleRepo, create_sample_service
from tests.configs import _toml_value, service_table, write_config
from tests.flows.test_check import remove_service_artifacts


def rollback_config(
    directory: Path,
    repo: SampleRepo | Path,
    *,
    name: str,
    builder: str,
    rust_image: str | None = None,
    rollback: dict[str, Any] | None = None,
    extra: str = "",
    branch: str = "main",
) -> Path:
    if isinstance(repo, Path):
        repo = SampleRepo(
            path=repo,
            branch=branch,
            commits=[],
            good=None,
            culprit=None,
            binary="sample-svc",
            expected_signature=None,
        )
    table = service_table(repo, name=name, builder=builder, rust_image=rust_image)
    if rollback:
        table += "\n[services.rollback]\n" + "".join(
            f"{key} = {_toml_value(value)}\n" for key, value in rollback.items()
        )
    return write_config(directory, table, extra=extra)


def run_cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False)
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"exit {result.exit_code}: {result.output}") from None
    return result.exit_code, document


def live_revision(port: int, timeout: float = 10) -> int | None:
    """The `revision` the service on 127.0.0.1:port reports, or None if nothing answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            if response.status_code == 200:
                return int(response.json()["revision"])
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def record_build(database_url: str, service: str, commit: str, status: BuildStatus) -> None:
    with session_scope(database_url) as session:
        crud.upsert_service(session=session, name=service, repo="-", branch="main")
        build = crud.start_build(
            session=session, build_in=BuildCreate(service=service, commit=commit, trigger="test")
        )
        assert build.id is not None
        crud.finish_build(
            session=session,
            build_id=build.id,
            status=status,
            stage=None if status is BuildStatus.passed else "health",  # type: ignore[arg-type]
            signature=None if status is BuildStatus.passed else "health: GET /health -> 500",
            log_excerpt=None,
            image=None,
            attempts=1,
        )


@dataclass(frozen=True)
class DockerService:
    name: str
    config: Path
    repo: SampleRepo
    port: int
    database_url: str

    @property
    def good(self) -> tuple[str, ...]:
        """The passing commits with images: revision 1, revision 2, ..."""
        return tuple(self.repo.commits[:-1])

    @property
    def broken(self) -> str:
        return self.repo.commits[-1]

    def cli(self, *args: str) -> tuple[int, dict[str, Any]]:
        return run_cli(*args, "--config", str(self.config))


@contextlib.contextmanager
def built_docker_service(
    root: Path, rust_image: str, docker_client: docker.DockerClient, *, good_commits: int
) -> Iterator[DockerService]:
    """A sample service with images built for its good commits and its broken one (the last);
    its containers and images are removed afterwards."""
    name = f"rb-{uuid.uuid4().hex[:8]}"
    repo = create_sample_service(
        root / "repo", scenario="health_failure", good_commits=good_commits, commits_after_break=0
    )
    port = free_port()
    config = rollback_config(
        root,
        repo,
        name=name,
        builder="docker",
        rust_image=rust_image,
        rollback={"host_port": port, "stop_timeout_seconds": 2, "lock_timeout_seconds": 60},
    )
    built = DockerService(name, config, repo, port, f"sqlite:///{root / 'history.db'}")
    try:
        for commit in repo.commits:
            run_cli("check", name, "--commit", commit, "--config", str(config))
        yield built
    finally:
        remove_service_artifacts(docker_client, name)


def clear_live(docker_client: docker.DockerClient, service: str) -> None:
    """Remove the service's containers and its live tag."""
    for container in docker_client.containers.list(
        all=True, filters={"label": f"{SERVICE_LABEL}={service}"}
    ):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(live_container.live_tag(service), noprune=True)


def live(docker_client: docker.DockerClient, service: str) -> docker.models.containers.Container:
    container = docker_client.containers.get(f"bm-{service}")
    assert container.status == "running"
    return container


def service_containers(docker_client: docker.DockerClient, service: str) -> list[str]:
    return sorted(
        c.name
        for c in docker_client.containers.list(
            all=True, filters={"label": f"{SERVICE_LABEL}={service}"}
        )
    )
