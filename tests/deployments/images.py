"""build-monitor's own image and the stack's PostgreSQL image, built offline for the tests.

The wheelhouse is built from a copy of the working tree (never in it) with a fixed
SOURCE_DATE_EPOCH, so unchanged sources give byte-identical wheels and the engine's layer cache
makes a rebuild cheap. Builds run with no network: they prove the image needs none."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
import docker.errors
import requests

from build_monitor.sample.debian_image import POSTGRES_BASE, PYTHON_BASE, ensure_debian_image

PROJECT = Path(__file__).resolve().parents[2]
BUILD_MONITOR_TAG = "build-monitor-test/build-monitor:offline"
BUILDER_STAGE_TAG = "build-monitor-test/build-monitor:offline-builder"
POSTGRES_TAG = "build-monitor-test/postgres:offline"
# Debian bookworm's Python is 3.11.2: redis needs async-timeout below 3.11.3, which a wheelhouse
# resolved by a newer 3.11 leaves out.
EXTRA_WHEELS = ("async-timeout>=4.0.3",)
REPRODUCIBLE_EPOCH = "315532800"  # 1980-01-01, the earliest zip timestamp


def project_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (PROJECT / name).is_file())


def build_wheelhouse(destination: Path) -> Path:
    """`pip wheel -w wheelhouse '.[postgres]'`, from a copy of the working tree."""
    source = Path(tempfile.mkdtemp(prefix="bm-h5-source-"))
    try:
        for name in project_files():
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, target)
        wheelhouse = destination / "wheelhouse"
        requirements = [f"{source}[postgres]", *EXTRA_WHEELS]
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheelhouse), *requirements],
            check=True,
            capture_output=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": REPRODUCIBLE_EPOCH},
        )
    finally:
        shutil.rmtree(source, ignore_errors=True)
    return wheelhouse


def build_offline(
    client: docker.DockerClient,
    context: Path,
    tag: str,
    base_image: str,
    *,
    target: str | None = None,
) -> tuple[str, str]:
    """Build `context` (its `target` stage) with no network; returns (image id, build log)."""
    previous = _image_id(client, tag)
    try:
        image, chunks = client.images.build(
            path=str(context),
            tag=tag,
            target=target,
            buildargs={"BASE_IMAGE": base_image},
            network_mode="none",
            rm=True,
            forcerm=True,
        )
    except docker.errors.BuildError as error:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in error.build_log)
        raise AssertionError(f"docker build of {tag} failed:\n{log[-4000:]}") from error
    log = "".join(str(chunk.get("stream", "")) for chunk in chunks)
    if previous and previous != image.id:
        # The tests' previous build of this tag, now untagged: not worth keeping. A busy engine
        # may take longer than the client's timeout; the removal then finishes without us.
        with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
            client.images.remove(previous, noprune=False)
    return str(image.id), log


def ensure_build_monitor_image(client: docker.DockerClient) -> str:
    base = ensure_debian_image(client, PYTHON_BASE)
    context = Path(tempfile.mkdtemp(prefix="bm-h5-image-"))
    try:
        for name in ("Dockerfile", ".dockerignore"):
            shutil.copy2(PROJECT / name, context / name)
        build_wheelhouse(context)
        # The builder stage gets a tag too, so the next rebuild can drop the one it replaces.
        build_offline(client, context, BUILDER_STAGE_TAG, base, target="builder")
        build_offline(client, context, BUILD_MONITOR_TAG, base)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return BUILD_MONITOR_TAG


def ensure_postgres_image(client: docker.DockerClient) -> str:
    base = ensure_debian_image(client, POSTGRES_BASE)
    build_offline(client, PROJECT / "compose" / "postgres", POSTGRES_TAG, base)
    return POSTGRES_TAG


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None
