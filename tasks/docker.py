"""Docker tasks: build a commit's image, health-check it, prune old images."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
from prefect.logging import get_run_logger
from prefect_docker import DockerHost

from build_monitor.builders import docker as docker_builder
from build_monitor.builders import health
from build_monitor.builders.docker import DOCKER_UNREACHABLE
from build_monitor.builders.result import StepResult
from build_monitor.config import ServiceConfig
from build_monitor.errors import InfrastructureError
from tasks.retry import INFRASTRUCTURE_TASK, TaskPolicy, attempt_result

# Pruning is housekeeping: one more try on any failure, and the caller never waits on it.
_PRUNE_TASK = TaskPolicy(retries=1, retry_delay_seconds=5)


@contextmanager
def docker_client(docker_host: DockerHost) -> Iterator[docker.DockerClient]:
    """The block's client; an engine that cannot be reached is an infrastructure error."""
    try:
        client = docker_host.get_client()
    except DOCKER_UNREACHABLE as exc:
        raise InfrastructureError(f"docker engine unreachable: {exc}") from None
    with client:
        yield client


@INFRASTRUCTURE_TASK(task_run_name="docker build {commit:.10}")
def build_image(
    docker_host: DockerHost, service: ServiceConfig, context: Path, commit: str
) -> StepResult:
    logger = get_run_logger()
    with docker_client(docker_host) as client:
        result = docker_builder.build_image(
            client, service=service, context=context, commit=commit, on_line=logger.debug
        )
    return attempt_result(result)


@INFRASTRUCTURE_TASK(task_run_name="health {commit:.10}")
def check_image_health(
    docker_host: DockerHost, service: ServiceConfig, image: str, commit: str
) -> StepResult:
    with docker_client(docker_host) as client:
        health.remove_orphan_containers(client, service=service.name)
        result = health.check_container_health(client, service=service, image=image, commit=commit)
    return attempt_result(result)


@_PRUNE_TASK()
def prune_service_images(
    docker_host: DockerHost, service: ServiceConfig, protect: set[str]
) -> list[str]:
    with docker_client(docker_host) as client:
        return docker_builder.prune_images(
            client, service=service.name, keep=service.keep_images, protect=protect
        )
