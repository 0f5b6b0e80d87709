"""A Docker registry for build images: push a passing build as `<registry>/<service>:<sha>`,
move `<registry>/<service>:live`, and pull an image a host lacks instead of rebuilding it.

Plain docker SDK code: the engine talks to the registry (TLS, token or basic auth), so the
same calls work with any registry the engine can log in to. The local images keep their
`build-monitor/<service>:<tag>` names; the registry-named tags are only made for a push or a
pull and removed right after. The Prefect tasks in tasks/registry.py are the thin shell.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from build_monitor.builders.docker import DOCKER_UNREACHABLE, LIVE_TAG, image_tag
from build_monitor.errors import InfrastructureError

_AUTH_WORDS = ("unauthorized", "authentication required", "denied", "no basic auth")
_MISSING_WORDS = ("manifest unknown", "not found", "name unknown", "does not exist")


class RegistryRefused(Exception):
    """The registry refused the credentials or the access: another attempt cannot help."""


@dataclass(frozen=True)
class RegistryAuth:
    """Where the registry is and how to log in, as plain values (see tasks/registry.py)."""

    registry_url: str
    username: str
    password: str = field(repr=False)

    @property
    def prefix(self) -> str:
        """`host[:port][/namespace]`, the part before `/<service>` in an image name."""
        url = self.registry_url.strip()
        for scheme in ("https://", "http://"):
            url = url.removeprefix(scheme)
        return url.rstrip("/")

    @property
    def server(self) -> str:
        return self.prefix.split("/", 1)[0]

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "serveraddress": self.server}


@dataclass(frozen=True)
class RegistryImage:
    """An image in the registry: its reference and the digest of its manifest."""

    reference: str
    digest: str | None


def registry_repository(auth: RegistryAuth, service: str) -> str:
    return f"{auth.prefix}/{service}"


def registry_image(auth: RegistryAuth, service: str, tag: str) -> str:
    return f"{registry_repository(auth, service)}:{tag}"


def push_image(
    client: docker.DockerClient, auth: RegistryAuth, *, service: str, commit: str
) -> RegistryImage:
    """Push the local build image of `commit` as `<registry>/<service>:<sha>`."""
    return _push_as(client, auth, local=image_tag(service, commit), service=service, tag=commit)


def push_live_tag(
    client: docker.DockerClient, auth: RegistryAuth, *, service: str, commit: str
) -> RegistryImage:
    """Point `<registry>/<service>:live` at the image of `commit`. Its layers are in the
    registry already, so only the manifest is uploaded: the same one as the sha tag's."""
    return _push_as(client, auth, local=image_tag(service, commit), service=service, tag=LIVE_TAG)


def pull_image(
    client: docker.DockerClient, auth: RegistryAuth, *, service: str, commit: str
) -> RegistryImage | None:
    """Pull `<registry>/<service>:<sha>` and tag it `build-monitor/<service>:<sha>`; None when
    the registry has no such image."""
    remote = registry_image(auth, service, commit)
    try:
        chunks = client.api.pull(
            registry_repository(auth, service),
            tag=commit,
            auth_config=auth.auth_config(),
            stream=True,
            decode=True,
        )
        _raise_stream_errors(chunks, f"pull {remote}")
        image = client.images.get(remote)
    except docker.errors.APIError as exc:
        if _is_missing(exc):
            return None
        raise _registry_error(f"pull {remote}", _explanation(exc)) from None
    except DOCKER_UNREACHABLE as exc:
        raise InfrastructureError(f"pull {remote}: docker engine unreachable: {exc}") from None
    local_repository, _, local_tag = image_tag(service, commit).rpartition(":")
    image.tag(local_repository, local_tag)
    digest = next(
        (d.split("@", 1)[1] for d in image.attrs.get("RepoDigests", []) if "@" in d), None
    )
    _untag(client, remote)
    return RegistryImage(reference=remote, digest=digest)


def _push_as(
    client: docker.DockerClient, auth: RegistryAuth, *, local: str, service: str, tag: str
) -> RegistryImage:
    remote = registry_image(auth, service, tag)
    try:
        client.images.get(local).tag(registry_repository(auth, service), tag)
        try:
            chunks = client.api.push(
                registry_repository(auth, service),
                tag=tag,
                auth_config=auth.auth_config(),
                stream=True,
                decode=True,
            )
            digest = _raise_stream_errors(chunks, f"push {remote}")
        finally:
            _untag(client, remote)
    except docker.errors.ImageNotFound:
        raise InfrastructureError(f"push {remote}: the local image {local} is missing") from None
    except docker.errors.APIError as exc:
        raise _registry_error(f"push {remote}", _explanation(exc)) from None
    except DOCKER_UNREACHABLE as exc:
        raise InfrastructureError(f"push {remote}: docker engine unreachable: {exc}") from None
    return RegistryImage(reference=remote, digest=digest)


def _raise_stream_errors(chunks: Iterable[dict[str, Any]], what: str) -> str | None:
    """Consume a push or pull progress stream; the manifest digest it reports, if any. The
    engine reports a failed push or pull inside the stream, not as an HTTP error."""
    digest: str | None = None
    for chunk in chunks:
        if "error" in chunk:
            message = str(chunk["error"]).strip()
            if any(word in message.lower() for word in _MISSING_WORDS) and what.startswith("pull"):
                raise docker.errors.NotFound(message)
            raise _registry_error(what, message)
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            digest = str(aux["Digest"])
    return digest


def _registry_error(what: str, message: str) -> Exception:
    text = f"{what}: {message.splitlines()[0][:300] if message else 'failed'}"
    if any(word in message.lower() for word in _AUTH_WORDS):
        return RegistryRefused(text)
    return InfrastructureError(text)


def _is_missing(exc: docker.errors.APIError) -> bool:
    message = _explanation(exc).lower()
    if any(word in message for word in _AUTH_WORDS):
        return False
    return exc.status_code == 404 or any(word in message for word in _MISSING_WORDS)


def _explanation(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or exc)


def _untag(client: docker.DockerClient, reference: str) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
        client.images.remove(reference, noprune=True)
