"""The service's live deployment: container `bm-<service>` running `build-monitor/<service>:live`.

Plain docker SDK code (the Prefect tasks in tasks/rollback.py are the thin shell around it).
Every change returns what undoing it needs, and every undo is idempotent.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import docker
import docker.errors
import docker.models.containers

from build_monitor.builders.docker import (
    COMMIT_LABEL,
    LIVE_TAG,
    image_repository,
    labels_for,
    run_limits,
)
from build_monitor.builders.health import ROLE_LABEL, ProbeTarget, probe_http
from build_monitor.builders.result import StepResult
from build_monitor.config import ServiceConfig
from build_monitor.errors import InfrastructureError
from build_monitor.history.models import BuildStatus
from build_monitor.rollback.plan import live_container_name, live_ports

LIVE_ROLE = "live"
PREVIOUS_ROLE_SUFFIX = "previous"


@dataclass(frozen=True)
class LiveState:
    container_id: str | None
    commit: str | None
    image_id: str | None
    running: bool
    live_tag_image_id: str | None


@dataclass(frozen=True)
class Handover:
    """What `hand_over` changed: the old container (renamed and stopped) and the new one."""

    previous_id: str | None
    previous_name: str | None
    previous_was_running: bool
    new_id: str | None
    # The commit label of the container replaced, read at the handover (journals written before
    # this field existed have none).
    previous_commit: str | None = None

    def to_undo(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_undo(cls, data: dict[str, Any]) -> Handover:
        return cls(**data)


def live_tag(service: str) -> str:
    return f"{image_repository(service)}:{LIVE_TAG}"


def find_container(
    client: docker.DockerClient, name_or_id: str
) -> docker.models.containers.Container | None:
    try:
        return client.containers.get(name_or_id)
    except docker.errors.NotFound:
        return None


def image_id(client: docker.DockerClient, reference: str) -> str | None:
    try:
        return str(client.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None


def read_live_state(client: docker.DockerClient, service: str) -> LiveState:
    container = find_container(client, live_container_name(service))
    tag_id = image_id(client, live_tag(service))
    if container is None:
        return LiveState(None, None, None, False, tag_id)
    return LiveState(
        container_id=container.id,
        commit=container.labels.get(COMMIT_LABEL),
        image_id=container.attrs.get("Image"),
        running=container.status == "running",
        live_tag_image_id=tag_id,
    )


def move_live_tag(client: docker.DockerClient, service: str, image: str) -> str | None:
    """Point `build-monitor/<service>:live` at `image`; returns the image id it pointed at."""
    previous = image_id(client, live_tag(service))
    client.images.get(image).tag(image_repository(service), LIVE_TAG)
    return previous


def restore_live_tag(client: docker.DockerClient, service: str, previous_id: str | None) -> None:
    if previous_id is None:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(live_tag(service), noprune=True)
        return
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(previous_id).tag(image_repository(service), LIVE_TAG)


def hand_over(
    client: docker.DockerClient,
    service: ServiceConfig,
    *,
    image: str,
    commit: str,
    suffix: str,
    on_plan: Any = None,
) -> Handover:
    """Stop the old live container (renamed, kept for undo) and start `image` as the new one on
    the live port. `on_plan(handover)` is called before anything changes, to journal it."""
    name = live_container_name(service.name)
    old = find_container(client, name)
    plan = Handover(
        previous_id=old.id if old is not None else None,
        previous_name=f"{name}-{PREVIOUS_ROLE_SUFFIX}-{suffix}" if old is not None else None,
        previous_was_running=old is not None and old.status == "running",
        new_id=None,
        previous_commit=old.labels.get(COMMIT_LABEL) if old is not None else None,
    )
    if on_plan is not None:
        on_plan(plan)
    try:
        if old is not None and plan.previous_name is not None:
            old.rename(plan.previous_name)
            if plan.previous_was_running:
                old.stop(timeout=int(service.rollback.stop_timeout_seconds))
        new = start_live_container(client, service, image=image, commit=commit)
    except docker.errors.APIError as exc:
        restore_handover(client, service, plan)
        raise InfrastructureError(f"cannot start the new live container: {exc}") from None
    except Exception:
        restore_handover(client, service, plan)
        raise
    return replace(plan, new_id=new.id)


def start_live_container(
    client: docker.DockerClient, service: ServiceConfig, *, image: str, commit: str
) -> docker.models.containers.Container:
    ports = live_ports(service)
    name = live_container_name(service.name)
    stale = find_container(client, name)
    if stale is not None:
        stale.remove(force=True)
    return client.containers.run(
        image,
        detach=True,
        name=name,
        environment={"PORT": str(ports.container_port)},
        ports={f"{ports.container_port}/tcp": (ports.host_address, ports.host_port)},
        labels=labels_for(service.name, commit) | {ROLE_LABEL: LIVE_ROLE},
        restart_policy={"Name": "unless-stopped"},
        # An init process forwards SIGTERM, so a stop takes milliseconds, not the timeout.
        init=True,
        **run_limits(service),
    )


def restore_handover(client: docker.DockerClient, service: ServiceConfig, plan: Handover) -> None:
    """Put the old container back as the live one (idempotent; also after a crash)."""
    name = live_container_name(service.name)
    current = find_container(client, name)
    if current is not None and current.id != plan.previous_id:
        current.remove(force=True)
    if plan.new_id is not None:
        stray = find_container(client, plan.new_id)
        if stray is not None and stray.id != plan.previous_id:
            stray.remove(force=True)
    if plan.previous_id is None:
        return
    previous = find_container(client, plan.previous_id)
    if previous is None:
        return
    if previous.name != name:
        previous.rename(name)
    previous.reload()
    if plan.previous_was_running and previous.status != "running":
        previous.start()


def discard_previous(client: docker.DockerClient, plan: Handover) -> None:
    """Remove the old container once the new one is verified (the handover is committed)."""
    if plan.previous_id is None:
        return
    previous = find_container(client, plan.previous_id)
    if previous is not None and previous.name == plan.previous_name:
        previous.remove(force=True)


def check_live_health(client: docker.DockerClient, service: ServiceConfig) -> StepResult:
    """GET the health path on the live port, as a user of the service would."""
    assert service.health is not None
    ports = live_ports(service)
    container = find_container(client, live_container_name(service.name))
    if container is None:
        return StepResult(status=BuildStatus.failed, signature="no live container")
    started = time.monotonic()

    def is_running() -> bool:
        container.reload()
        return container.status in ("created", "running")

    status, reason = probe_http(
        ProbeTarget(ports.probe_host, ports.host_port),
        service.health,
        deadline=started + service.health.timeout_seconds,
        is_running=is_running,
    )
    duration = time.monotonic() - started
    where = f"{ports.probe_host}:{ports.host_port}{service.health.path}"
    if status == service.health.expect_status:
        return StepResult.ok(duration_s=duration)
    if reason == "exited":
        detail = f"the live container exited before {where} answered"
    elif status is None:
        detail = f"no answer from {where} within {service.health.timeout_seconds:g}s"
    else:
        detail = f"{where} answered {status}, expected {service.health.expect_status}"
    logs = container.logs(tail=50).decode("utf-8", "replace")
    return StepResult(
        status=BuildStatus.failed, signature=detail, log_excerpt=logs or None, duration_s=duration
    )
