"""Building through the engine's own BuildKit (`POST /build?version=2`), which the docker SDK
does not offer: the request, the build context it accepts, and cancelling it.

This reaches into the SDK's `APIClient` internals for the raw request, hence the `docker<8` pin.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import socket
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO

import docker
import docker.errors
import requests
from docker.api.build import process_dockerfile
from docker.utils.build import exclude_paths


def post_buildkit_build(
    client: docker.DockerClient,
    *,
    context: Path,
    dockerfile: str,
    tag: str,
    build_args: dict[str, str],
    labels: dict[str, str],
    use_cache: bool,
) -> requests.Response:
    """`POST /build?version=2`: the engine's own BuildKit, which the docker SDK does not offer.
    The context goes up as a tar, as for the legacy builder, so no BuildKit session is needed
    (`RUN --mount=type=cache` works; secrets and SSH forwarding, which need one, do not)."""
    api = client.api
    resolved = process_dockerfile(dockerfile, str(context))
    archive = context_archive(context, resolved)
    params = {
        "version": "2",
        "t": tag,
        "dockerfile": resolved[0],
        "buildargs": json.dumps(build_args),
        "labels": json.dumps(labels),
        "nocache": not use_cache,
        "rm": True,
        "forcerm": True,
        "pull": False,
    }
    headers = {"Content-Type": "application/tar"}
    api._set_auth_headers(headers)
    try:
        response: requests.Response = api._post(
            api._url("/build"), data=archive, params=params, headers=headers, stream=True
        )
    finally:
        archive.close()
    api._raise_for_status(response)
    return response


BUILD_STAMP_FILE = ".build-monitor-build"


def context_archive(context: Path, dockerfile: tuple[str, str | None]) -> IO[bytes]:
    """The build context as a tar BuildKit accepts (GNU format: it reads a PAX archive as a
    Dockerfile), honouring .dockerignore.

    Every file is stamped with the build's start time, and a file naming the build is added.
    A `target/` in a cache mount outlives the sources it was built from, and cargo trusts
    mtimes for workspace crates: sources older than its outputs (another slot's checkout, or a
    `COPY . .` layer cached from an earlier build) would make it reuse the binary of a
    different commit. With every source newer than any output, and the `COPY . .` layer never
    reused, cargo rebuilds the workspace crates each time and reuses only what it can prove
    unchanged: compiled crates.io dependencies."""
    dockerignore = context / ".dockerignore"
    exclude: list[str] = []
    if dockerignore.is_file():
        lines = [line.strip() for line in dockerignore.read_text().splitlines()]
        exclude = [line for line in lines if line and not line.startswith("#")]
    name, outside_contents = dockerfile
    stamp = math.ceil(time.time()) + 1
    archive = tempfile.TemporaryFile()  # noqa: SIM115 -- returned open, closed by the caller
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for relative in sorted(exclude_paths(str(context), exclude, dockerfile=name)):
            if relative == BUILD_STAMP_FILE:
                continue
            info = tar.gettarinfo(str(context / relative), arcname=relative)
            if info is None:  # a socket
                continue
            info.mtime = stamp
            if info.isfile():
                with open(context / relative, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
        extra = {BUILD_STAMP_FILE: f"{uuid.uuid4()}\n"}
        if outside_contents is not None:
            extra[name] = outside_contents
        for member, text in extra.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size, info.mtime, info.mode = len(data), stamp, 0o644
            tar.addfile(info, io.BytesIO(data))
    archive.seek(0)
    return archive


def hang_up(client: docker.DockerClient, response: requests.Response) -> None:
    """Shut the streaming socket down: closing the response alone does not wake a thread
    blocked reading it, and the engine cancels the build only once the connection is gone."""
    with contextlib.suppress(OSError, AttributeError, docker.errors.APIError):
        sock = client.api._get_raw_response_socket(response)
        getattr(sock, "_sock", sock).shutdown(socket.SHUT_RDWR)
    response.close()
