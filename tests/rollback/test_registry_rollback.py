"""`[docker] registry_block` end to end, against a real registry on 127.0.0.1 with basic auth:
a passing build's image is pushed as `<registry>/<service>:<sha>`, a deploy or rollback moves
the registry's `live` tag, and a host that lacks the image pulls it instead of rebuilding."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from prefect_docker.credentials import DockerRegistryCredentials

from build_monitor.builders.docker import image_tag
from build_monitor.builders.health import free_port
from tests.builders.registry_server import (
    TINY_DOCKERFILE,
    RegistryServer,
    running_registry,
    tiny_base_image,
)
from tests.configs import _toml_value, unique_service_name
from tests.repo_fixtures import remove_service_artifacts
from tests.rollback.helpers import clear_live, live_revision, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.prefect]

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "h6",
    "GIT_AUTHOR_EMAIL": "h6@example.invalid",
    "GIT_COMMITTER_NAME": "h6",
    "GIT_COMMITTER_EMAIL": "h6@example.invalid",
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **_GIT_ENV},
    ).stdout.strip()


def tiny_service_repo(path: Path) -> list[str]:
    """Commits: revision 1, revision 2 (both pass), then one whose build fails."""
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    commits = []
    for revision in (1, 2):
        (path / "Dockerfile").write_text(TINY_DOCKERFILE)
        (path / "revision").write_text(f"{revision}\n")
        _git(path, "add", "-A")
        _git(path, "commit", "-q", "-m", f"revision {revision}")
        commits.append(_git(path, "rev-parse", "HEAD"))
    (path / "Dockerfile").write_text(TINY_DOCKERFILE + "COPY no-such-file /nowhere\n")
    _git(path, "commit", "-q", "-am", "break the build")
    commits.append(_git(path, "rev-parse", "HEAD"))
    return commits


def save_registry_block(server: RegistryServer, password: str | None = None) -> str:
    name = f"h6-registry-{uuid.uuid4().hex[:8]}"
    DockerRegistryCredentials(
        username=server.username,
        password=password or server.password,
        registry_url=server.address,
    ).save(name)
    return name


def write_service_config(
    root: Path, *, name: str, repo: Path, base: str, block: str, port: int
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    service: dict[str, Any] = {
        "name": name,
        "repo": str(repo),
        "branch": "main",
        "builder": "docker",
        "build_timeout_seconds": 120,
        "retries": 0,
        "memory_limit": "256m",
        "build_args": {"BASE": base},
    }
    path = root / "config.toml"
    path.write_text(
        "[storage]\n"
        f'database_url = "sqlite:///{root / "history.db"}"\n'
        f'cache_dir = "{root / "cache"}"\n\n'
        f'[docker]\nregistry_block = "{block}"\n\n'
        "[[services]]\n"
        + "".join(f"{key} = {_toml_value(value)}\n" for key, value in service.items())
        + '\n[services.health]\nport = 8000\npath = "/health"\ntimeout_seconds = 20\n'
        + f"\n[services.rollback]\nhost_port = {port}\nstop_timeout_seconds = 2\n"
        + "lock_timeout_seconds = 60\n"
    )
    return path


@dataclass(frozen=True)
class RegistryService:
    name: str
    config: Path
    commits: list[str]
    port: int
    registry: RegistryServer
    checks: dict[str, dict[str, Any]]

    def cli(self, *args: str) -> tuple[int, dict[str, Any]]:
        return run_cli(*args, "--config", str(self.config))

    def builds_of(self, commit: str) -> int:
        code, history = self.cli("history", self.name)
        assert code == 0, history
        return sum(1 for build in history["builds"] if build["commit"] == commit)


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with running_registry(tmp_path_factory.mktemp("h6-registry")) as server:
        yield server


@pytest.fixture(scope="module")
def base_image(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[str]:
    with tiny_base_image(docker_client, tmp_path_factory.mktemp("h6-tiny")) as tag:
        yield tag


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("h6-repo") / "repo"
    return path, tiny_service_repo(path)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    prefect_api_url: str,
    docker_client: docker.DockerClient,
    registry_server: RegistryServer,
    base_image: str,
    repo: tuple[Path, list[str]],
) -> Iterator[RegistryService]:
    """The tiny service with its three commits checked (so pushed, if they passed)."""
    name = unique_service_name("h6-reg")
    path, commits = repo
    port = free_port()
    config = write_service_config(
        tmp_path_factory.mktemp("h6-service"),
        name=name,
        repo=path,
        base=base_image,
        block=save_registry_block(registry_server),
        port=port,
    )
    try:
        checks = {
            commit: run_cli("check", name, "--commit", commit, "--config", str(config))[1]
            for commit in commits
        }
        yield RegistryService(name, config, commits, port, registry_server, checks)
    finally:
        remove_service_artifacts(docker_client, name)


@pytest.fixture
def no_live(service: RegistryService, docker_client: docker.DockerClient) -> Iterator[None]:
    clear_live(docker_client, service.name)
    yield
    clear_live(docker_client, service.name)


def test_every_passing_build_is_pushed_and_a_failing_one_is_not(
    service: RegistryService,
) -> None:
    first, second, broken = service.commits
    assert [service.checks[c]["status"] for c in (first, second)] == ["passed", "passed"]
    assert service.checks[broken]["status"] != "passed"
    assert service.registry.tags(service.name) == {first, second}
    assert service.registry.manifest_digest(service.name, first) != (
        service.registry.manifest_digest(service.name, second)
    )


def test_deploy_and_rollback_move_the_registry_live_tag(
    service: RegistryService, no_live: None
) -> None:
    first, second, _ = service.commits
    registry = service.registry
    code, deployed = service.cli("deploy", service.name, "--commit", second)
    assert (code, deployed["status"]) == (0, "succeeded"), deployed
    assert live_revision(service.port) == 2
    assert registry.manifest_digest(service.name, "live") == (
        registry.manifest_digest(service.name, second)
    )

    code, outcome = service.cli("rollback", service.name, first[:12], "revision 2 misbehaves")
    assert (code, outcome["status"]) == (0, "succeeded"), outcome
    assert live_revision(service.port) == 1
    assert registry.manifest_digest(service.name, "live") == (
        registry.manifest_digest(service.name, first)
    )
    step = next(s for s in outcome["steps"] if s["name"] == "push_live_tag")
    assert step["status"] == "done", outcome["steps"]


def test_a_host_without_the_image_pulls_it_instead_of_rebuilding(
    service: RegistryService, docker_client: docker.DockerClient, no_live: None
) -> None:
    first, second, _ = service.commits
    assert service.cli("deploy", service.name, "--commit", first)[0] == 0
    docker_client.images.remove(image_tag(service.name, second), force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image_tag(service.name, second))
    builds_before = service.builds_of(second)

    code, outcome = service.cli("deploy", service.name, "--commit", second)
    assert (code, outcome["status"]) == (0, "succeeded"), outcome
    names = [s["name"] for s in outcome["steps"]]
    assert "pull_image" in names and "rebuild_image" not in names, outcome["steps"]
    assert live_revision(service.port) == 2
    assert service.builds_of(second) == builds_before
    assert service.registry.manifest_digest(service.name, "live") == (
        service.registry.manifest_digest(service.name, second)
    )


@pytest.mark.parametrize("problem", ["wrong password", "no such block"])
def test_a_push_that_cannot_happen_never_fails_the_build(
    problem: str,
    tmp_path: Path,
    prefect_api_url: str,
    docker_client: docker.DockerClient,
    registry_server: RegistryServer,
    base_image: str,
    repo: tuple[Path, list[str]],
) -> None:
    name = unique_service_name("h6-regbad")
    path, commits = repo
    config = write_service_config(
        tmp_path,
        name=name,
        repo=path,
        base=base_image,
        block=(
            save_registry_block(registry_server, password="wrong")
            if problem == "wrong password"
            else f"h6-missing-{uuid.uuid4().hex[:8]}"
        ),
        port=free_port(),
    )
    try:
        code, report = run_cli("check", name, "--commit", commits[0], "--config", str(config))
        assert (code, report["status"]) == (0, "passed"), report
        assert registry_server.tags(name) == set()
        docker_client.images.get(image_tag(name, commits[0]))  # still usable on this host
    finally:
        remove_service_artifacts(docker_client, name)
