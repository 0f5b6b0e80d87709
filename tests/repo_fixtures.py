"""Fixtures for real Docker, the offline Rust image and generated sample repositories.

Star-imported by conftest.py. Tests that need Docker fail (never skip) without an engine.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, cast

import docker
import docker.errors
import docker.models.images
import pytest
import requests

from build_monitor.builders.docker import SERVICE_LABEL
from build_monitor.errors import InfrastructureError
from build_monitor.sample.rust_image import ensure_rust_image
from build_monitor.sample.service import SampleRepo, Scenario, create_sample_service
from tests.configs import unique_service_name

__all__ = [
    "SampleRepoFactory",
    "build_sample_image",
    "docker_client",
    "docker_service_name",
    "remove_image_and_stages",
    "remove_service_artifacts",
    "rust_image",
    "sample_repo",
]

_LAYER_ID = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$", re.MULTILINE)
_DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


class SampleRepoFactory(Protocol):
    def __call__(self, scenario: Scenario | str = "good", **options: Any) -> SampleRepo: ...


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except _DOCKER_ERRORS as error:
        pytest.fail(f"Docker engine required for this test, but it is unreachable: {error}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def rust_image(docker_client: docker.DockerClient) -> str:
    """Tag of the offline-built Rust image (built once, ~45 s, then cached by Docker)."""
    try:
        return ensure_rust_image(docker_client)
    except InfrastructureError as error:
        pytest.fail(f"could not provide the Rust build image: {error}")


def remove_service_artifacts(client: docker.DockerClient, service: str) -> None:
    """Remove the containers and images labelled with `service` (a name this test made up)."""
    label = {"label": f"{SERVICE_LABEL}={service}"}
    for container in client.containers.list(all=True, filters=label):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    for image in client.images.list(filters=label):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.remove(image.id, force=True)


@pytest.fixture
def docker_service_name(docker_client: docker.DockerClient) -> Iterator[str]:
    """A service name unique to this test; what Docker holds for it is removed afterwards."""
    name = unique_service_name()
    yield name
    remove_service_artifacts(docker_client, name)


@pytest.fixture
def sample_repo(tmp_path: Path) -> SampleRepoFactory:
    """`sample_repo("compile_error", good_commits=5)` -> a fresh repository under tmp_path."""
    counter = itertools.count()

    def create(scenario: Scenario | str = "good", **options: Any) -> SampleRepo:
        path = tmp_path / f"{scenario}-{next(counter)}"
        # create_sample_service rejects unknown scenarios with a clear InvalidInputError.
        return create_sample_service(path, scenario=cast(Scenario, scenario), **options)

    return create


@contextlib.contextmanager
def build_sample_image(
    client: docker.DockerClient, repo_path: Path, *, rust_image: str
) -> Iterator[tuple[docker.models.images.Image | None, str]]:
    """Build `repo_path`'s Dockerfile (legacy builder); yields (image or None, build log).

    The image and the builder-stage images are removed afterwards.
    """
    tag = f"bm-test/sample:{uuid.uuid4().hex[:12]}"
    log_parts: list[str] = []
    for chunk in client.api.build(
        path=str(repo_path),
        tag=tag,
        buildargs={"RUST_IMAGE": rust_image},
        rm=True,
        forcerm=True,
        decode=True,
    ):
        if "stream" in chunk:
            log_parts.append(chunk["stream"])
        if "error" in chunk:
            log_parts.append(f"{chunk['error']}\n")
    log = "".join(log_parts)
    try:
        image: docker.models.images.Image | None = client.images.get(tag)
    except docker.errors.ImageNotFound:
        image = None
    try:
        yield image, log
    finally:
        remove_image_and_stages(client, tag if image is not None else None, log)


def remove_image_and_stages(client: docker.DockerClient, tag: str | None, build_log: str) -> None:
    """Remove a built image and the untagged intermediate images named in its build log."""
    if tag is not None:
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(tag, force=True)
    for layer_id in reversed(_LAYER_ID.findall(build_log)):
        try:
            layer = client.images.get(layer_id)
        except docker.errors.NotFound:
            continue
        if layer.tags:
            continue
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.remove(layer_id)
