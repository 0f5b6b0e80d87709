"""build-monitor's own image: built offline from a wheelhouse, non-root, healthy on
/api/health, and able to reach the host's engine through the mounted socket."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import docker
import httpx
import pytest
from docker.models.containers import Container

HEALTHY_DEADLINE_SECONDS = 600
CONFIG_IN_IMAGE = "/etc/build-monitor/config.toml"
SOCKET = "/var/run/docker.sock"

# Building the image takes minutes on a busy 2-core machine (a cold build took 8).
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(2400)]


def wait_for_health(container: Container, deadline_seconds: float) -> str:
    """The container's health status once it is no longer `starting` (or it stopped)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        container.reload()
        state = container.attrs["State"]
        status = str(state.get("Health", {}).get("Status", "none"))
        if status != "starting" or state["Status"] != "running" or time.monotonic() > deadline:
            return status if state["Status"] == "running" else f"{state['Status']}"
        time.sleep(2)


def test_image_runs_start_as_non_root_and_becomes_healthy(
    docker_client: docker.DockerClient, build_monitor_image: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[server]\nhost = "0.0.0.0"\nport = 8080\n')
    config.chmod(0o644)
    container = docker_client.containers.run(
        build_monitor_image,  # default CMD: build-monitor start, with its own Prefect server
        detach=True,
        name=f"bm-h5-image-{uuid.uuid4().hex[:8]}",
        ports={"8080/tcp": ("127.0.0.1", None)},
        volumes={
            str(config): {"bind": CONFIG_IN_IMAGE, "mode": "ro"},
            SOCKET: {"bind": SOCKET, "mode": "rw"},
        },
        group_add=[str(os.stat(SOCKET).st_gid)],
    )
    try:
        status = wait_for_health(container, HEALTHY_DEADLINE_SECONDS)
        logs = container.logs(tail=40).decode(errors="replace")
        assert status == "healthy", logs
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        report = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).json()
        assert (report["status"], report["database"]["ok"], report["prefect"]["ok"]) == (
            "ok",
            True,
            True,
        )
        assert container.exec_run("id -u").output.decode().strip() == "10001"
        # A worker's tools: git, and the host's engine through the socket (Docker SDK).
        assert container.exec_run("git --version").exit_code == 0
        ping = container.exec_run(
            ["python", "-c", "import docker; print(docker.from_env().ping())"]
        )
        assert ping.output.decode().strip() == "True", ping.output
    finally:
        container.remove(force=True)
