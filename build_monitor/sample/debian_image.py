"""Debian base images made offline (debootstrap from the machine's Debian mirror, then
`docker import`), cached by tag: the base of build-monitor's own image (python3, venv, git) and of
a PostgreSQL image, for machines that cannot pull from a registry.

    python -m build_monitor.sample.debian_image python    # prints the tag it made or found
    python -m build_monitor.sample.debian_image postgres
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import docker

from build_monitor.errors import BuildMonitorError, InfrastructureError
from build_monitor.sample.rust_image import (
    DEBIAN_SUITE,
    DEBOOTSTRAP_TIMEOUT_SECONDS,
    DOCKER_ERRORS,
    LOCK_TIMEOUT_SECONDS,
    Progress,
    _build_lock,
    _data_dir,
    _image_exists,
    _run_tool,
    debian_mirror,
    import_rootfs,
)

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class DebianImage:
    tag: str
    packages: tuple[str, ...]  # debootstrap --include
    # Installed afterwards with apt in the chroot, behind a policy-rc.d that forbids starting
    # services: a package's postinst must never start a daemon on this machine.
    chroot_packages: tuple[str, ...] = ()
    # Files written into the root filesystem before `chroot_packages` are installed.
    files: tuple[tuple[str, str], ...] = ()


# python3-venv gives `python3 -m venv` (with ensurepip); git for the workers' clones.
PYTHON_BASE = DebianImage(
    tag=f"build-monitor/python-base:{DEBIAN_SUITE}",
    packages=("python3", "python3-venv", "git", "ca-certificates"),
)
# Debian's server package, without the cluster its postinst would create (the entrypoint in
# compose/postgres/ makes one in $PGDATA, as the official postgres image does).
POSTGRES_BASE = DebianImage(
    tag=f"build-monitor/postgres-base:{DEBIAN_SUITE}",
    packages=("ca-certificates",),
    chroot_packages=("postgresql",),
    files=(("etc/postgresql-common/createcluster.conf", "create_main_cluster = false\n"),),
)
IMAGES = {"python": PYTHON_BASE, "postgres": POSTGRES_BASE}


def ensure_debian_image(
    client: docker.DockerClient, image: DebianImage, *, progress: Progress | None = None
) -> str:
    """Return `image.tag`, building it offline only if the engine does not have it yet."""
    report = progress or (lambda message: None)
    if _image_exists(client, image.tag):
        return image.tag
    with _build_lock(timeout_seconds=LOCK_TIMEOUT_SECONDS):
        if _image_exists(client, image.tag):
            return image.tag
        report(f"building {image.tag} offline (debootstrap {', '.join(image.packages)})")
        started = time.monotonic()
        _build(client, image)
        report(f"built {image.tag} in {time.monotonic() - started:.0f}s")
    return image.tag


def _build(client: docker.DockerClient, image: DebianImage) -> None:
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists():
        raise InfrastructureError("debootstrap is not installed (apt-get install -y debootstrap)")
    if os.geteuid() != 0:
        raise InfrastructureError("building a Debian image with debootstrap needs root")
    work_dir = Path(tempfile.mkdtemp(prefix="bm-debian-rootfs-", dir=_data_dir()))
    try:
        rootfs = work_dir / "rootfs"
        cache_dir = _data_dir() / "debootstrap-cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        _run_tool(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(image.packages)}",
                f"--cache-dir={cache_dir}",
                DEBIAN_SUITE,
                str(rootfs),
                debian_mirror(),
            ],
            what="debootstrap",
            timeout=DEBOOTSTRAP_TIMEOUT_SECONDS,
        )
        if image.chroot_packages:
            _install_in_chroot(rootfs, image)
        shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        (rootfs / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True)
        import_rootfs(
            client,
            rootfs,
            image.tag,
            environment=[f"PATH={SYSTEM_PATH}", "LANG=C.UTF-8"],
            what=image.tag,
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _install_in_chroot(rootfs: Path, image: DebianImage) -> None:
    policy = rootfs / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    for relative, text in image.files:
        target = rootfs / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    environment = "env DEBIAN_FRONTEND=noninteractive"
    for command in (
        f"{environment} apt-get update -qq",
        f"{environment} apt-get install -y -qq --no-install-recommends "
        + " ".join(image.chroot_packages),
        "apt-get clean",
    ):
        _run_tool(
            ["chroot", str(rootfs), "sh", "-c", command],
            what=f"apt in the chroot ({command.split()[-1]})",
            timeout=DEBOOTSTRAP_TIMEOUT_SECONDS,
        )
    policy.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make an offline Debian base image by tag.")
    parser.add_argument("image", choices=sorted(IMAGES))
    args = parser.parse_args(argv)
    try:
        client = docker.from_env()
        tag = ensure_debian_image(
            client, IMAGES[args.image], progress=lambda m: print(m, file=sys.stderr)
        )
    except (BuildMonitorError, *DOCKER_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
