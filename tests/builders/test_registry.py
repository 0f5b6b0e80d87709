"""The registry adapter against a real registry on 127.0.0.1 with basic auth: push as
`<registry>/<service>:<sha>`, the `live` tag, pull, and the failures it tells apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from build_monitor.builders import registry
from build_monitor.builders.docker import COMMIT_LABEL, image_tag, labels_for
from build_monitor.builders.health import free_port
from build_monitor.builders.registry import RegistryAuth, RegistryRefused
from build_monitor.errors import InfrastructureError
from tests.builders.registry_server import (
    TINY_DOCKERFILE,
    RegistryServer,
    running_registry,
    tiny_base_image,
)
from tests.configs import unique_service_name
from tests.repo_fixtures import remove_service_artifacts


def test_registry_auth_names_images_under_the_registry_and_hides_the_password() -> None:
    auth = RegistryAuth("https://registry.example.com/team/", "bot", "s3cret")
    assert registry.registry_image(auth, "api", "abc") == "registry.example.com/team/api:abc"
    assert auth.auth_config()["serveraddress"] == "registry.example.com"
    assert "s3cret" not in repr(auth)
    plain = RegistryAuth("127.0.0.1:5000", "bot", "pw")
    assert registry.registry_image(plain, "api", "live") == "127.0.0.1:5000/api:live"


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


@pytest.fixture
def service(docker_client: docker.DockerClient) -> Iterator[str]:
    name = unique_service_name("h6-reg")
    yield name
    remove_service_artifacts(docker_client, name)


def build_local(
    client: docker.DockerClient, root: Path, base: str, service: str, commit: str, revision: int
) -> str:
    context = root / commit
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text(TINY_DOCKERFILE)
    (context / "revision").write_text(f"{revision}\n")
    image, _ = client.images.build(
        path=str(context),
        tag=image_tag(service, commit),
        buildargs={"BASE": base},
        labels=labels_for(service, commit),
        rm=True,
    )
    return str(image.id)


def registry_tags(client: docker.DockerClient, server: RegistryServer) -> list[str]:
    return [t for image in client.images.list() for t in image.tags if server.address in t]


@pytest.mark.docker
def test_push_then_pull_after_the_local_image_is_gone(
    docker_client: docker.DockerClient,
    registry_server: RegistryServer,
    base_image: str,
    service: str,
    tmp_path: Path,
) -> None:
    auth = registry_server.auth()
    first, second = "a1" * 20, "b2" * 20
    build_local(docker_client, tmp_path, base_image, service, first, 1)
    build_local(docker_client, tmp_path, base_image, service, second, 2)

    pushed = registry.push_image(docker_client, auth, service=service, commit=first)
    registry.push_image(docker_client, auth, service=service, commit=second)
    assert pushed.reference == f"{registry_server.address}/{service}:{first}"
    assert registry_server.tags(service) == {first, second}
    assert pushed.digest == registry_server.manifest_digest(service, first)
    # Only the registry has the registry-named tags: the local names stay as they were.
    assert registry_tags(docker_client, registry_server) == []

    live = registry.push_live_tag(docker_client, auth, service=service, commit=second)
    assert registry_server.manifest_digest(service, "live") == live.digest
    assert live.digest == registry_server.manifest_digest(service, second)
    registry.push_live_tag(docker_client, auth, service=service, commit=first)
    assert registry_server.manifest_digest(service, "live") == pushed.digest

    docker_client.images.remove(image_tag(service, first), force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image_tag(service, first))
    pulled = registry.pull_image(docker_client, auth, service=service, commit=first)
    assert pulled is not None and pulled.digest == pushed.digest
    image = docker_client.images.get(image_tag(service, first))
    assert image.labels[COMMIT_LABEL] == first
    assert registry_tags(docker_client, registry_server) == []


@pytest.mark.docker
def test_pull_of_an_image_the_registry_lacks_is_none(
    docker_client: docker.DockerClient, registry_server: RegistryServer, service: str
) -> None:
    auth = registry_server.auth()
    assert registry.pull_image(docker_client, auth, service=service, commit="c3" * 20) is None


@pytest.mark.docker
def test_wrong_credentials_are_refused_and_an_unreachable_registry_is_infrastructure(
    docker_client: docker.DockerClient,
    registry_server: RegistryServer,
    base_image: str,
    service: str,
    tmp_path: Path,
) -> None:
    commit = "d4" * 20
    build_local(docker_client, tmp_path, base_image, service, commit, 4)
    wrong = registry_server.auth(password="wrong")
    with pytest.raises(RegistryRefused, match="unauthorized"):
        registry.push_image(docker_client, wrong, service=service, commit=commit)
    with pytest.raises(RegistryRefused, match="unauthorized"):
        registry.pull_image(docker_client, wrong, service=service, commit=commit)
    assert registry_server.tags(service) == set()

    gone = RegistryAuth(f"127.0.0.1:{free_port()}", "u", "p")
    with pytest.raises(InfrastructureError, match="connection refused"):
        registry.push_image(docker_client, gone, service=service, commit=commit)
    # A failed push leaves no registry-named tag behind either.
    assert registry_tags(docker_client, registry_server) == []
