"""Registry tasks: push a passing build's image, move the registry's `live` tag, pull an image
this host lacks. All of them do nothing without `[docker] registry_block`."""

from __future__ import annotations

from typing import cast

from prefect.logging import get_run_logger
from prefect_docker import DockerHost
from prefect_docker.credentials import DockerRegistryCredentials

from blocks.docker_registry import get_registry_auth, load_registry_credentials
from build_monitor.builders import registry
from build_monitor.builders.registry import RegistryImage
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.errors import ConfigError
from tasks.blocks import load_docker_host
from tasks.docker import docker_client
from tasks.retry import TaskPolicy, is_infrastructure_failure

# A registry over the network: two more tries when the engine or the registry was unreachable
# (never when the registry refused the credentials).
REGISTRY_TASK = TaskPolicy(
    retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=is_infrastructure_failure
)


@REGISTRY_TASK(task_run_name="push {service.name}:{commit:.10}")
def push_image(
    docker_host: DockerHost,
    credentials: DockerRegistryCredentials,
    service: ServiceConfig,
    commit: str,
) -> RegistryImage:
    with docker_client(docker_host) as client:
        return registry.push_image(
            client, get_registry_auth(credentials), service=service.name, commit=commit
        )


@REGISTRY_TASK(task_run_name="registry live tag -> {commit:.10}")
def push_live_tag(
    docker_host: DockerHost,
    credentials: DockerRegistryCredentials,
    service: ServiceConfig,
    commit: str,
) -> RegistryImage:
    with docker_client(docker_host) as client:
        return registry.push_live_tag(
            client, get_registry_auth(credentials), service=service.name, commit=commit
        )


@REGISTRY_TASK(task_run_name="pull {service.name}:{commit:.10}")
def pull_image(
    docker_host: DockerHost,
    credentials: DockerRegistryCredentials,
    service: ServiceConfig,
    commit: str,
) -> RegistryImage | None:
    with docker_client(docker_host) as client:
        return registry.pull_image(
            client, get_registry_auth(credentials), service=service.name, commit=commit
        )


def publish_passing_build(
    config: Config, service: ServiceConfig, commit: str, result: StepResult
) -> RegistryImage | None:
    """After a check: push a passing docker build's image when a registry is configured. A
    failed push is logged, never a failed build (the image still works on this host)."""
    if service.builder != "docker" or not result.passed or result.image is None:
        return None
    try:
        credentials = load_registry_credentials(config)
    except ConfigError as exc:
        _not_pushed(service, commit, str(exc))
        return None
    if credentials is None:
        return None
    state = push_image(load_docker_host(config), credentials, service, commit, return_state=True)
    if state.is_completed():
        return cast(RegistryImage, state.result())
    _not_pushed(service, commit, str(state.message))
    return None


def _not_pushed(service: ServiceConfig, commit: str, reason: str) -> None:
    get_run_logger().warning(
        "%s %s: the image was not pushed to the registry: %s", service.name, commit[:10], reason
    )
