"""Session fixtures: build-monitor's image and the stack's PostgreSQL image, built offline."""

from __future__ import annotations

import docker
import pytest

from build_monitor.errors import InfrastructureError
from tests.deployments.images import ensure_build_monitor_image, ensure_postgres_image


@pytest.fixture(scope="session")
def build_monitor_image(docker_client: docker.DockerClient) -> str:
    try:
        return ensure_build_monitor_image(docker_client)
    except InfrastructureError as error:
        pytest.fail(f"could not build build-monitor's image: {error}")


@pytest.fixture(scope="session")
def postgres_image(docker_client: docker.DockerClient) -> str:
    try:
        return ensure_postgres_image(docker_client)
    except InfrastructureError as error:
        pytest.fail(f"could not build the PostgreSQL image: {error}")
