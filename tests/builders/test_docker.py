"""The docker builder against a real engine: timeouts, OOM, labels, pruning, BuildKit."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from build_monitor.builders.docker import SERVICE_LABEL, build_image, image_tag, prune_images
from build_monitor.config import ServiceConfig
from build_monitor.git.repo import sync_repository
from build_monitor.git.worktrees import build_worktree
from tests.repo_fixtures import SampleRepoFactory

pytestmark = pytest.mark.docker


@pytest.fixture
def service_name(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"dockertest-{uuid.uuid4().hex[:8]}"
    yield name
    for image in docker_client.images.list(filters={"label": f"{SERVICE_LABEL}={name}"}):
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(image.id, force=True)


def context_with(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_a_build_over_its_timeout_is_stopped_and_fails(
    docker_client: docker.DockerClient, rust_image: str, tmp_path: Path, service_name: str
) -> None:
    context = context_with(tmp_path, f"FROM {rust_image}\nRUN sleep 120\n")
    service = ServiceConfig(name=service_name, repo="/r", build_timeout_seconds=3)
    started = time.monotonic()
    result = build_image(docker_client, service=service, context=context, commit="a" * 40)
    assert time.monotonic() - started < 40
    assert (result.status, result.stage) == ("failed", "build")
    assert result.signature == "timeout: the build took longer than 3s"
    assert not [
        c
        for c in docker_client.containers.list()
        if "sleep 120" in " ".join(c.attrs["Config"]["Cmd"] or [])
    ]


def test_an_oom_killed_build_is_an_infrastructure_error(
    docker_client: docker.DockerClient, rust_image: str, tmp_path: Path, service_name: str
) -> None:
    context = context_with(
        tmp_path, f"FROM {rust_image}\nRUN head -c 400000000 /dev/zero | tail -n 1 > /dev/null\n"
    )
    service = ServiceConfig(name=service_name, repo="/r", memory_limit="32m")
    result = build_image(docker_client, service=service, context=context, commit="b" * 40)
    assert result.status == "error", result
    assert result.stage is None


@pytest.mark.parametrize("buildkit", [False, True], ids=["legacy", "buildkit"])
@pytest.mark.parametrize(
    ("kill_signal", "status"), [("KILL", "error"), ("SEGV", "failed")], ids=["sigkill", "sigsegv"]
)
def test_a_step_killed_by_sigkill_is_the_machines_fault_and_a_crash_the_commits(
    docker_client: docker.DockerClient,
    rust_image: str,
    tmp_path: Path,
    service_name: str,
    buildkit: bool,
    kill_signal: str,
    status: str,
) -> None:
    # The inner shell kills itself (what the OOM killer does to a test binary); the outer one,
    # not PID 1's signal-immune self, reports it as the step's exit status (128 + signal).
    context = context_with(
        tmp_path, f"FROM {rust_image}\nRUN sh -c 'kill -{kill_signal} $$'; exit $?\n"
    )
    service = ServiceConfig(name=service_name, repo="/r", buildkit=buildkit)
    result = build_image(docker_client, service=service, context=context, commit="9" * 40)
    assert result.status == status, result
    if status == "error":
        assert result.stage is None and str(result.signature).startswith("out of memory")


def test_missing_dockerfile_is_the_commits_fault(
    docker_client: docker.DockerClient, tmp_path: Path, service_name: str
) -> None:
    context = tmp_path / "empty"
    context.mkdir()
    service = ServiceConfig(name=service_name, repo="/r")
    result = build_image(docker_client, service=service, context=context, commit="c" * 40)
    assert (result.status, result.stage) == ("failed", "build")
    assert "no Dockerfile" in str(result.signature)


def test_images_are_labelled_and_pruned_past_keep_images(
    docker_client: docker.DockerClient, rust_image: str, tmp_path: Path, service_name: str
) -> None:
    service = ServiceConfig(name=service_name, repo="/r", keep_images=2)
    commits = [str(i) * 40 for i in range(4)]
    for index, commit in enumerate(commits):
        context = context_with(tmp_path, f"FROM {rust_image}\nRUN echo {index} > /built\n")
        assert build_image(docker_client, service=service, context=context, commit=commit).passed
        time.sleep(1.1)  # image creation times have one-second resolution
    live = docker_client.images.get(image_tag(service_name, commits[0]))
    live.tag(f"build-monitor/{service_name}", "live")
    removed = prune_images(docker_client, service=service_name, keep=2)
    assert removed == [image_tag(service_name, commits[1])]
    remaining = {
        t
        for i in docker_client.images.list(filters={"label": f"{SERVICE_LABEL}={service_name}"})
        for t in i.tags
    }
    assert remaining == {
        image_tag(service_name, commits[0]),
        f"build-monitor/{service_name}:live",
        image_tag(service_name, commits[2]),
        image_tag(service_name, commits[3]),
    }


def _host_processes_running(needle: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if needle in text:
                found.append(text)
    return found


class TestBuildKit:
    def test_cache_mounted_target_dir_never_gives_a_stale_result(
        self,
        docker_client: docker.DockerClient,
        rust_image: str,
        sample_repo: SampleRepoFactory,
        tmp_path: Path,
        service_name: str,
    ) -> None:
        """The hazard: one cache-mounted target/ serves several worktree slots, and the culprit
        is rerun from a slot checked out before other commits were built into that target."""
        repo = sample_repo("test_failure", good_commits=3, cache_mounts=True)
        mirror = sync_repository(
            repo_url=str(repo.path), branch="main", cache_dir=tmp_path / "c", service="svc"
        )
        service = ServiceConfig(
            name=service_name, repo="/r", buildkit=True, build_args={"RUST_IMAGE": rust_image}
        )
        culprit = repo.culprit or ""
        parent = repo.commits[repo.commits.index(culprit) - 1]
        root = tmp_path / "w"

        def build(commit: str) -> tuple[str, str | None, str]:
            with build_worktree(mirror, commit, root=root, keep=[culprit]) as worktree:
                result = build_image(
                    docker_client, service=service, context=worktree, commit=commit
                )
            return (result.status, result.signature, worktree.name)

        first = build(culprit)
        assert first[:2] == ("failed", repo.expected_signature)
        assert build(parent)[:2] == ("passed", None)
        assert build(repo.commits[0])[:2] == ("passed", None)
        again = build(culprit)
        assert again == first  # same slot, same failure: not the binary built in between
        assert build(parent)[:2] == ("passed", None)
        image = docker_client.images.get(image_tag(service_name, parent))
        assert image.labels[SERVICE_LABEL] == service_name

    def test_a_timed_out_buildkit_build_is_cancelled(
        self, docker_client: docker.DockerClient, rust_image: str, tmp_path: Path, service_name: str
    ) -> None:
        marker = f"sleep 97.{uuid.uuid4().int % 1000}"
        context = context_with(tmp_path, f"FROM {rust_image}\nRUN {marker}\n")
        service = ServiceConfig(
            name=service_name, repo="/r", buildkit=True, build_timeout_seconds=3
        )
        started = time.monotonic()
        result = build_image(docker_client, service=service, context=context, commit="d" * 40)
        assert time.monotonic() - started < 40
        assert (result.status, result.stage) == ("failed", "build")
        assert result.signature == "timeout: the build took longer than 3s"
        deadline = time.monotonic() + 20
        while _host_processes_running(marker) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _host_processes_running(marker)
