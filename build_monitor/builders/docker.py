"""Docker builder: build a service's own Dockerfile at a commit, with limits, a timeout and labels.

Plain docker SDK code; the Prefect tasks in tasks/docker.py are the thin shell around it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
import requests.exceptions

from build_monitor.builders.buildkit import hang_up, post_buildkit_build
from build_monitor.builders.buildkit_trace import TRACE_ID, TraceError, TraceLog, decode_trace_aux
from build_monitor.builders.result import StepResult
from build_monitor.builders.signatures import analyze_build_output, log_excerpt
from build_monitor.config import ServiceConfig, parse_memory
from build_monitor.history.models import BuildStage, BuildStatus

MANAGED_LABEL = "build-monitor.managed"
SERVICE_LABEL = "build-monitor.service"
COMMIT_LABEL = "build-monitor.commit"
LIVE_TAG = "live"
_RUNNING_IN = re.compile(r"-+> Running in ([0-9a-f]{12,64})")
DOCKER_UNREACHABLE = (
    docker.errors.DockerException,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)


def image_repository(service: str) -> str:
    return f"build-monitor/{service}"


def image_tag(service: str, commit: str) -> str:
    return f"{image_repository(service)}:{commit}"


def labels_for(service: str, commit: str | None = None) -> dict[str, str]:
    labels = {MANAGED_LABEL: "true", SERVICE_LABEL: service}
    if commit:
        labels[COMMIT_LABEL] = commit
    return labels


def build_limits(service: ServiceConfig) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if service.memory_limit:
        memory = parse_memory(service.memory_limit)
        limits["memory"] = memory
        limits["memswap"] = memory  # no swap: an over-limit build is OOM-killed, not thrashing
    if service.cpus:
        cores = min(math.ceil(service.cpus), os.cpu_count() or 1)
        limits["cpusetcpus"] = f"0-{cores - 1}" if cores > 1 else "0"
    return limits


def run_limits(service: ServiceConfig) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if service.memory_limit:
        limits["mem_limit"] = parse_memory(service.memory_limit)
    if service.cpus:
        limits["nano_cpus"] = int(service.cpus * 1e9)
    return limits


class _BuildStream:
    """Consumes the build stream in a thread so the caller can enforce a wall-clock timeout."""

    def __init__(self, chunks: Any, on_line: Callable[[str], None] | None) -> None:
        self.lines: list[str] = []
        self.error: str | None = None
        self.exception: BaseException | None = None
        self.image_id: str | None = None
        self.running_container: str | None = None
        self._partial = ""
        self._chunks = chunks
        self._on_line = on_line
        self._trace = TraceLog()
        self.thread = threading.Thread(target=self._consume, daemon=True)

    def _consume(self) -> None:
        try:
            for chunk in self._chunks:
                self._take(chunk)
            self.flush()
        except BaseException as exc:  # reported to the caller's thread
            self.exception = exc

    def _take(self, chunk: dict[str, Any]) -> None:
        if chunk.get("id") == TRACE_ID:
            try:
                events = decode_trace_aux(chunk.get("aux"))
            except TraceError as exc:
                events = []
                self._add_line(f"(unreadable BuildKit progress: {exc})")
            for event in events:
                for line in self._trace.lines(event):
                    self._add_line(line)
            return
        if "stream" in chunk:
            # Chunks split lines anywhere; only complete lines are logged.
            self._partial += str(chunk["stream"])
            *complete, self._partial = self._partial.split("\n")
            for line in complete:
                self._add_line(line)
        if "error" in chunk:
            self.flush()
            self.error = str(chunk["error"]).strip()
            self.lines.append(self.error)
        if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
            self.image_id = chunk["aux"]["ID"]

    def _add_line(self, line: str) -> None:
        line = line.rstrip("\r")
        if not line.strip() and (not self.lines or not self.lines[-1].strip()):
            return
        self.lines.append(line)
        if match := _RUNNING_IN.search(line):
            self.running_container = match.group(1)
        if self._on_line:
            self._on_line(line)

    def flush(self) -> None:
        for line in self._trace.finish():
            self._add_line(line)
        if self._partial:
            self._add_line(self._partial)
            self._partial = ""


def build_image(
    client: docker.DockerClient,
    *,
    service: ServiceConfig,
    context: Path,
    commit: str,
    on_line: Callable[[str], None] | None = None,
    use_cache: bool = True,
) -> StepResult:
    """Build `context` with the service's Dockerfile; tag `build-monitor/<service>:<sha>`."""
    started = time.monotonic()
    dockerfile = context / service.dockerfile
    if not dockerfile.is_file():
        return StepResult(
            status=BuildStatus.failed,
            stage=BuildStage.build,
            signature=f"no {service.dockerfile} in the repository at this commit",
            duration_s=time.monotonic() - started,
        )
    tag = image_tag(service.name, commit)
    response: requests.Response | None = None
    try:
        if service.buildkit:
            response = post_buildkit_build(
                client,
                context=context,
                dockerfile=service.dockerfile,
                tag=tag,
                build_args=dict(service.build_args),
                labels=labels_for(service.name, commit),
                use_cache=use_cache,
            )
            chunks = client.api._stream_helper(response, decode=True)
        else:
            chunks = client.api.build(
                path=str(context),
                dockerfile=service.dockerfile,
                tag=tag,
                buildargs=dict(service.build_args),
                labels=labels_for(service.name, commit),
                container_limits=build_limits(service),
                rm=True,
                forcerm=True,
                pull=False,
                nocache=not use_cache,
                decode=True,
            )
        stream = _BuildStream(chunks, on_line)
        stream.thread.start()
        stream.thread.join(service.build_timeout_seconds)
        timed_out = stream.thread.is_alive()
        if timed_out:
            _stop_build(client, stream, response)
    except docker.errors.APIError as exc:
        return StepResult.infrastructure(f"docker engine refused the build: {_short(exc)}")
    except DOCKER_UNREACHABLE as exc:
        return StepResult.infrastructure(f"docker engine unreachable: {_short(exc)}")
    duration = time.monotonic() - started
    log = "\n".join(stream.lines)
    if timed_out:
        return StepResult.timed_out(
            stage=_stage_reached(log),
            timeout_seconds=service.build_timeout_seconds,
            output=log,
            duration_s=duration,
        )
    if stream.exception is not None:
        if isinstance(stream.exception, DOCKER_UNREACHABLE):
            return StepResult.infrastructure(
                f"docker engine unreachable: {_short(stream.exception)}",
                log_excerpt=log_excerpt(log),
            )
        raise stream.exception
    if stream.error is None:
        return dataclasses.replace(StepResult.ok(image=tag, duration_s=duration), output=log)
    failure = StepResult.from_failure(
        analyze_build_output(log),
        stage=BuildStage.build,
        fallback_signature=stream.error,
        duration_s=duration,
    )
    return dataclasses.replace(failure, output=log)


def _stage_reached(log: str) -> BuildStage:
    return BuildStage.test if "Running unittests" in log or "running " in log else BuildStage.build


def _stop_build(
    client: docker.DockerClient, stream: _BuildStream, response: requests.Response | None
) -> None:
    """Abort a timed-out build. BuildKit cancels when its request goes away; the legacy builder
    aborts once the step's container is killed. Either way the stream then ends."""
    if response is not None:
        hang_up(client, response)
        stream.thread.join(30)
        return
    deadline = time.monotonic() + 30
    while stream.thread.is_alive() and time.monotonic() < deadline:
        if stream.running_container:
            with contextlib.suppress(docker.errors.APIError):
                client.api.kill(stream.running_container)
        stream.thread.join(1)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def prune_images(
    client: docker.DockerClient, *, service: str, keep: int, protect: set[str] | None = None
) -> list[str]:
    """Remove this service's build images past the newest `keep`; never the live or protected
    ones. Returns the removed tags."""
    protect = protect or set()
    images = client.images.list(filters={"label": [f"{SERVICE_LABEL}={service}"]})
    images.sort(key=lambda image: image.attrs.get("Created", ""), reverse=True)
    removed: list[str] = []
    for image in images[keep:]:
        tags = set(image.tags)
        if tags & protect or any(t.endswith(f":{LIVE_TAG}") for t in tags):
            continue
        try:
            client.images.remove(image.id, force=True, noprune=False)
        except docker.errors.APIError:
            continue  # in use by a container: keep it
        removed.extend(sorted(tags))
    return removed
