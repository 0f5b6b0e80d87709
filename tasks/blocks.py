"""Loading the Prefect blocks a service's configuration names (none named: the defaults)."""

from __future__ import annotations

from typing import cast

from prefect_docker import DockerHost

from blocks.git import GitCredentials
from build_monitor.config import Config, ServiceConfig


def load_docker_host(config: Config) -> DockerHost:
    if config.docker.host_block:
        return cast(DockerHost, DockerHost.load(config.docker.host_block))
    return DockerHost()


def load_git_credentials(service: ServiceConfig) -> GitCredentials | None:
    if service.git_credentials_block:
        return cast(GitCredentials, GitCredentials.load(service.git_credentials_block))
    return None
