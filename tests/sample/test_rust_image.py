from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import docker
import docker.errors
import pytest

from build_monitor.errors import InfrastructureError
from build_monitor.sample.rust_image import (
    DEFAULT_MIRROR,
    MANAGED_LABEL,
    debian_mirror,
    default_image_tag,
    ensure_rust_image,
    rust_sysroot,
)


def test_default_tag_is_the_local_rustc_version() -> None:
    host_version = subprocess.run(
        ["rustc", "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()[1]

    assert default_image_tag(rust_sysroot()) == f"build-monitor/rust-base:{host_version}"


def test_mirror_is_read_from_deb822_sources(tmp_path: Path) -> None:
    sources = tmp_path / "debian.sources"
    sources.write_text(
        "Types: deb\n# URIs: http://commented.example/debian\n"
        "URIs: http://mirror.example/debian/\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )

    assert debian_mirror((sources,)) == "http://mirror.example/debian"


def test_mirror_is_read_from_a_one_line_sources_list(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text(
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64] http://mirror.example/debian bookworm main\n"
    )

    assert debian_mirror((tmp_path / "missing.sources", sources)) == "http://mirror.example/debian"


def test_mirror_defaults_to_debian_when_nothing_is_configured(tmp_path: Path) -> None:
    assert debian_mirror((tmp_path / "missing",)) == DEFAULT_MIRROR


def test_missing_rustc_is_a_clear_infrastructure_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(InfrastructureError, match="rustc was not found"):
        rust_sysroot()


def test_unreachable_docker_is_an_infrastructure_error() -> None:
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")

    with pytest.raises(InfrastructureError, match="cannot query the Docker engine"):
        ensure_rust_image(client, tag="bm-test/never-built:1")


@pytest.mark.docker
def test_missing_debootstrap_is_a_clear_infrastructure_error(
    docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rustc = shutil.which("rustc")
    assert rustc is not None
    (tmp_path / "rustc").symlink_to(rustc)
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(InfrastructureError, match="debootstrap is required"):
        ensure_rust_image(docker_client, tag="bm-test/never-built:1")


@pytest.mark.docker
def test_rust_image_is_labelled_cached_and_runs_the_local_toolchain(
    docker_client: docker.DockerClient, rust_image: str
) -> None:
    messages: list[str] = []
    started = time.monotonic()
    again = ensure_rust_image(docker_client, tag=rust_image, progress=messages.append)
    elapsed = time.monotonic() - started

    image = docker_client.images.get(rust_image)
    output = docker_client.containers.run(
        rust_image, ["sh", "-c", "rustc --version && cargo --version && cc --version"], remove=True
    ).decode()

    assert again == rust_image
    assert messages == []
    assert elapsed < 5
    assert image.labels.get(MANAGED_LABEL) == "true"
    assert any(item.startswith("PATH=/opt/rust/bin:") for item in image.attrs["Config"]["Env"])
    version = re.search(r"rustc (\S+)", output)
    assert version is not None
    assert rust_image.endswith(f":{version.group(1)}")
    assert "cargo " in output
    assert "cc (Debian" in output
