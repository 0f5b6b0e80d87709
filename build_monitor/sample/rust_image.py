"""A Rust build image made offline (debootstrap + the local toolchain), cached by tag.

No registry is contacted: the root filesystem comes from the machine's Debian mirror and the
Rust toolchain is copied from the machine's rustup installation.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import docker
import docker.errors
import requests

from build_monitor.errors import InfrastructureError

MANAGED_LABEL = "build-monitor.managed"
DEFAULT_REPOSITORY = "build-monitor/rust-base"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITE = "bookworm"
IMAGE_PATH = "/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_PACKAGES = ("gcc", "libc6-dev", "ca-certificates")
DEBOOTSTRAP_TIMEOUT_SECONDS = 1200
LOCK_TIMEOUT_SECONDS = 1800
IMPORT_CHUNK_BYTES = 1 << 20
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)

Progress = Callable[[str], None]


def ensure_rust_image(
    client: docker.DockerClient,
    *,
    tag: str | None = None,
    progress: Progress | None = None,
) -> str:
    """Return the tag of a Rust build image, building it offline only if it is not cached."""
    report = progress or _ignore
    if tag is not None and _image_exists(client, tag):
        return tag
    sysroot = rust_sysroot()
    image_tag = tag or default_image_tag(sysroot)
    if _image_exists(client, image_tag):
        return image_tag
    with _build_lock(timeout_seconds=LOCK_TIMEOUT_SECONDS):
        if _image_exists(client, image_tag):
            return image_tag
        report(f"building Rust image {image_tag} offline (debootstrap + local toolchain)")
        started = time.monotonic()
        _build_image(client, image_tag, sysroot, report)
        report(f"built {image_tag} in {time.monotonic() - started:.0f}s")
    return image_tag


def rust_sysroot() -> Path:
    """The directory of the machine's active Rust toolchain (holding bin/ and lib/)."""
    rustc = shutil.which("rustc")
    if rustc is None:
        raise InfrastructureError(
            "rustc was not found on PATH; install a Rust toolchain with rustup "
            "(it is copied into the build image)"
        )
    output = _run_tool([rustc, "--print", "sysroot"], what="rustc --print sysroot", timeout=60)
    sysroot = Path(output.strip())
    for required in ("bin/rustc", "bin/cargo", "lib"):
        if not (sysroot / required).exists():
            raise InfrastructureError(
                f"the Rust toolchain at {sysroot} has no {required}; "
                "install a complete toolchain with `rustup toolchain install stable`"
            )
    return sysroot


def default_image_tag(sysroot: Path) -> str:
    """`build-monitor/rust-base:<rustc version>`, e.g. `build-monitor/rust-base:1.95.0`."""
    output = _run_tool(
        [str(sysroot / "bin" / "rustc"), "--version"], what="rustc --version", timeout=60
    )
    match = re.match(r"rustc (\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)", output.strip())
    if match is None:
        raise InfrastructureError(f"could not read the Rust version from {output.strip()!r}")
    return f"{DEFAULT_REPOSITORY}:{match.group(1)}"


def debian_mirror(
    sources: tuple[Path, ...] = (
        Path("/etc/apt/sources.list.d/debian.sources"),
        Path("/etc/apt/sources.list"),
    ),
) -> str:
    """The Debian mirror apt already uses on this machine (the only reachable one offline)."""
    for source in sources:
        try:
            text = source.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("#"):
                continue
            deb822 = re.match(r"URIs:\s*(\S+)", line)
            if deb822 and "security" not in deb822.group(1):
                return deb822.group(1).rstrip("/")
            one_line = re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if one_line and "security" not in one_line.group(2):
                return one_line.group(1).rstrip("/")
    return DEFAULT_MIRROR


def _build_image(client: docker.DockerClient, tag: str, sysroot: Path, report: Progress) -> None:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise InfrastructureError(
            "debootstrap is required to build the Rust image offline but is not installed "
            "(install it with `apt-get install -y debootstrap`)"
        )
    tar = shutil.which("tar")
    if tar is None:
        raise InfrastructureError("tar is required to build the Rust image but is not installed")
    if os.geteuid() != 0:
        raise InfrastructureError("building the Rust image with debootstrap needs root")
    work_dir = Path(tempfile.mkdtemp(prefix="bm-rust-rootfs-", dir=_data_dir()))
    try:
        rootfs = work_dir / "rootfs"
        mirror = debian_mirror()
        report(f"debootstrap {DEBIAN_SUITE} from {mirror}")
        cache_dir = _data_dir() / "debootstrap-cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        _run_tool(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                f"--cache-dir={cache_dir}",
                DEBIAN_SUITE,
                str(rootfs),
                mirror,
            ],
            what="debootstrap",
            timeout=DEBOOTSTRAP_TIMEOUT_SECONDS,
        )
        report(f"copying the Rust toolchain from {sysroot}")
        for part in ("bin", "lib"):
            shutil.copytree(sysroot / part, rootfs / "opt" / "rust" / part, symlinks=True)
        report(f"importing the root filesystem as {tag}")
        import_rootfs(
            client, rootfs, tag, environment=[f"PATH={IMAGE_PATH}"], what="the Rust image", tar=tar
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def import_rootfs(
    client: docker.DockerClient,
    rootfs: Path,
    tag: str,
    *,
    environment: Sequence[str],
    what: str,
    tar: str = "tar",
) -> None:
    """Import the root filesystem `rootfs` as image `tag` (with `ENV` lines `environment`)."""
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    changes = [f"ENV {line}" for line in environment] + [f"LABEL {MANAGED_LABEL}=true"]
    with subprocess.Popen(
        [tar, "--numeric-owner", "-C", str(rootfs), "-c", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as archive:
        assert archive.stdout is not None
        try:
            client.api.import_image_from_stream(
                _chunks(archive.stdout), repository=repository, tag=version, changes=changes
            )
        except DOCKER_ERRORS as error:
            archive.kill()
            raise InfrastructureError(f"docker could not import {what}: {error}") from error
        stderr = archive.stderr.read().decode(errors="replace") if archive.stderr else ""
        if archive.wait() != 0:
            raise InfrastructureError(f"tar of the {what} root filesystem failed: {stderr.strip()}")
    if not _image_exists(client, tag):
        raise InfrastructureError(f"docker import finished but image {tag} does not exist")


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(IMPORT_CHUNK_BYTES):
        yield chunk


def _image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    except DOCKER_ERRORS as error:
        raise InfrastructureError(f"cannot query the Docker engine for {tag}: {error}") from error
    return True


@contextlib.contextmanager
def _build_lock(*, timeout_seconds: float) -> Iterator[None]:
    lock_path = _data_dir() / "rust-image.lock"
    deadline = time.monotonic() + timeout_seconds
    with open(lock_path, "a+b") as lock_file:
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InfrastructureError(
                        f"another process has held {lock_path} for over {timeout_seconds:.0f}s "
                        "while building the Rust image"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _data_dir() -> Path:
    directory = Path(tempfile.gettempdir()) / "build-monitor"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _run_tool(command: list[str], *, what: str, timeout: float) -> str:
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as error:
        raise InfrastructureError(f"{what}: {command[0]} is not installed") from error
    except subprocess.TimeoutExpired as error:
        raise InfrastructureError(f"{what} did not finish within {timeout:.0f}s") from error
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-15:])
        raise InfrastructureError(f"{what} failed with exit code {completed.returncode}:\n{tail}")
    return completed.stdout


def _ignore(message: str) -> None:
    del message
