"""Health checks: start the built service (container or local command), wait for its port, GET
the configured path and compare the status. Whatever is started is always stopped."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx

from build_monitor.builders.docker import DOCKER_UNREACHABLE, labels_for, run_limits
from build_monitor.builders.processes import pid_alive
from build_monitor.builders.result import StepResult
from build_monitor.builders.signatures import health_signature, log_excerpt
from build_monitor.config import HealthConfig, ServiceConfig
from build_monitor.history.models import BuildStage, BuildStatus

ROLE_LABEL = "build-monitor.role"
OWNER_LABEL = "build-monitor.owner"
_POLL_SECONDS = 0.2


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class ProbeTarget:
    host: str
    port: int


def probe_http(
    target: ProbeTarget,
    health: HealthConfig,
    *,
    deadline: float,
    is_running: Callable[[], bool] | None = None,
) -> tuple[int | None, str | None]:
    """Poll until the expected status, the process exits, or the deadline. Returns the last
    status seen (None if nothing answered) and a reason when nothing answered."""
    url = f"http://{target.host}:{target.port}{health.path}"
    last_status: int | None = None
    reason: str | None = "no answer"
    settle_deadline: float | None = None
    with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
        while True:
            if is_running is not None and not is_running():
                return last_status, "exited"
            try:
                last_status = client.get(url).status_code
                reason = None
                if last_status == health.expect_status:
                    return last_status, None
                if settle_deadline is None:
                    settle_deadline = time.monotonic() + health.settle_seconds
            except httpx.HTTPError:
                pass
            now = time.monotonic()
            if now >= deadline or (settle_deadline is not None and now >= settle_deadline):
                return last_status, reason
            time.sleep(_POLL_SECONDS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _verdict(
    health: HealthConfig,
    status: int | None,
    reason: str | None,
    log: str,
    started: float,
    exit_code: int | None = None,
) -> StepResult:
    duration = time.monotonic() - started
    if status == health.expect_status:
        return StepResult.ok(duration_s=duration)
    if reason == "exited":
        return StepResult(
            status=BuildStatus.failed,
            stage=BuildStage.health,
            signature=health_signature(
                path=health.path,
                status=None,
                expected=health.expect_status,
                reason=f"the service exited with code {exit_code} before answering",
            ),
            log_excerpt=log_excerpt(log),
            duration_s=duration,
        )
    if status is None:
        signature = health_signature(
            path=health.path,
            status=None,
            expected=health.expect_status,
            reason=f"no answer within {health.timeout_seconds:g}s",
        )
    else:
        signature = health_signature(path=health.path, status=status, expected=health.expect_status)
    return StepResult(
        status=BuildStatus.failed,
        stage=BuildStage.health,
        signature=signature,
        log_excerpt=log_excerpt(log) if log else None,
        duration_s=duration,
    )


# ------------------------------------------------------------------ docker


@contextmanager
def running_container(
    client: docker.DockerClient, *, service: ServiceConfig, image: str, commit: str, role: str
) -> Iterator[docker.models.containers.Container]:
    """A container of `image` publishing the health port on 127.0.0.1; always removed."""
    assert service.health is not None
    port = service.health.port
    labels = labels_for(service.name, commit) | {ROLE_LABEL: role, OWNER_LABEL: owner_id()}
    container = client.containers.run(
        image,
        detach=True,
        name=f"bm-{role}-{service.name}-{commit[:12]}-{uuid.uuid4().hex[:6]}",
        environment={"PORT": str(port)},
        ports={f"{port}/tcp": ("127.0.0.1", None)},
        labels=labels,
        **run_limits(service),
    )
    try:
        yield container
    finally:
        with suppress(docker.errors.NotFound):
            container.remove(force=True)


def published_port(container: docker.models.containers.Container, port: int) -> int | None:
    container.reload()
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp")
    return int(bindings[0]["HostPort"]) if bindings else None


def check_container_health(
    client: docker.DockerClient, *, service: ServiceConfig, image: str, commit: str
) -> StepResult:
    health = service.health
    if health is None:
        return StepResult.ok()
    started = time.monotonic()
    try:
        with running_container(
            client, service=service, image=image, commit=commit, role="health"
        ) as container:
            deadline = started + health.timeout_seconds
            host_port = None
            while host_port is None and time.monotonic() < deadline:
                host_port = published_port(container, health.port)
                if host_port is None:
                    if container.status == "exited":
                        break
                    time.sleep(_POLL_SECONDS)
            status: int | None = None
            reason: str | None = "exited"
            if host_port is not None:

                def is_running() -> bool:
                    container.reload()
                    return container.status in ("created", "running")

                status, reason = probe_http(
                    ProbeTarget("127.0.0.1", host_port),
                    health,
                    deadline=deadline,
                    is_running=is_running,
                )
            log = container.logs(tail=200).decode("utf-8", "replace")
            if reason == "exited":
                exit_code = container.wait(timeout=10).get("StatusCode")
                if exit_code == 137:
                    return StepResult.infrastructure(
                        "the service container was OOM-killed during its health check",
                        log_excerpt=log_excerpt(log),
                    )
                return _verdict(health, status, reason, log, started, exit_code)
            return _verdict(health, status, reason, log, started)
    except docker.errors.ImageNotFound:
        return StepResult.infrastructure(f"image {image} is missing")
    except DOCKER_UNREACHABLE as exc:
        return StepResult.infrastructure(f"docker engine unreachable: {exc}")


def remove_orphan_containers(client: docker.DockerClient, *, service: str) -> int:
    """Health containers whose owning process on this host is gone (a crashed run)."""
    host = socket.gethostname()
    removed = 0
    for container in client.containers.list(
        all=True, filters={"label": [f"build-monitor.service={service}", f"{ROLE_LABEL}=health"]}
    ):
        owner = container.labels.get(OWNER_LABEL, "")
        owner_host, _, pid = owner.partition(":")
        if owner_host == host and pid.isdigit() and not pid_alive(int(pid)):
            try:
                container.remove(force=True)
                removed += 1
            except docker.errors.NotFound:
                pass
    return removed


# ------------------------------------------------------------------ local process


@contextmanager
def running_process(
    command: str, *, cwd: Path, port: int, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The local service command with $PORT set, in its own process group; always killed."""
    argv = shlex.split(command)
    if argv and not os.path.isabs(argv[0]) and (cwd / argv[0]).exists():
        argv[0] = str(cwd / argv[0])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, "PORT": str(port)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def check_process_health(*, service: ServiceConfig, workdir: Path, log_path: Path) -> StepResult:
    health = service.health
    if health is None:
        return StepResult.ok()
    assert health.command is not None
    started = time.monotonic()
    port = free_port()
    try:
        with running_process(health.command, cwd=workdir, port=port, log_path=log_path) as process:
            status, reason = probe_http(
                ProbeTarget("127.0.0.1", port),
                health,
                deadline=started + health.timeout_seconds,
                is_running=lambda: process.poll() is None,
            )
            exit_code = process.poll()
    except FileNotFoundError:
        return StepResult(
            status=BuildStatus.failed,
            stage=BuildStage.health,
            signature=f"health: command not found: {shlex.split(health.command)[0]}",
            duration_s=time.monotonic() - started,
        )
    log = log_path.read_text(encoding="utf-8", errors="replace")
    if reason == "exited" and exit_code == -signal.SIGKILL:
        return StepResult.infrastructure(
            "the service process was killed (OOM?) during its health check",
            log_excerpt=log_excerpt(log),
        )
    return _verdict(health, status, reason, log, started, exit_code)
