"""prefect-docker's `DockerRegistryCredentials` block (`[docker] registry_block`): loading it by
name, and its get_client(), the one place its password is unwrapped."""

from __future__ import annotations

from typing import cast

from prefect_docker.credentials import DockerRegistryCredentials

from build_monitor.builders.registry import RegistryAuth
from build_monitor.config import Config
from build_monitor.errors import ConfigError
from build_monitor.notifications.redact import redact


def load_registry_credentials(config: Config) -> DockerRegistryCredentials | None:
    """The configured block; None without `[docker] registry_block`; ConfigError (naming no
    secret) when it cannot be loaded."""
    name = config.docker.registry_block
    if not name:
        return None
    try:
        return cast(DockerRegistryCredentials, DockerRegistryCredentials.load(name))
    except Exception as exc:
        reason = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise ConfigError(
            f"[docker] registry_block: cannot load the DockerRegistryCredentials block "
            f"{name!r} ({reason}); create it (prefect-docker's block type)"
        ) from None


def get_registry_auth(credentials: DockerRegistryCredentials) -> RegistryAuth:
    return RegistryAuth(
        registry_url=credentials.registry_url,
        username=credentials.username,
        password=credentials.password.get_secret_value(),
    )
