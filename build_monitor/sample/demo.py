"""The demo's setup: a generated sample service, a config for it, and the builder to use."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from build_monitor.builders.health import free_port
from build_monitor.errors import InfrastructureError
from build_monitor.sample.service import SampleRepo, create_sample_service

DEMO_SERVICE = "sample-svc"
BuilderChoice = Literal["auto", "docker", "local"]


@dataclass(frozen=True)
class DemoSetup:
    directory: Path
    config_path: Path
    repo: SampleRepo
    builder: Literal["docker", "local"]
    rust_image: str | None


def pick_builder(
    choice: BuilderChoice, progress: Callable[[str], None]
) -> tuple[Literal["docker", "local"], str | None]:
    """Docker when an engine answers and a Rust image can be had; else the local builder."""
    if choice in ("auto", "docker"):
        try:
            import docker

            from build_monitor.sample.rust_image import ensure_rust_image

            client = docker.from_env()
            client.ping()
            return "docker", ensure_rust_image(client, progress=progress)
        except Exception as exc:
            if choice == "docker":
                raise InfrastructureError(f"the docker builder is not usable here: {exc}") from None
            progress(f"docker builder not usable ({exc}); using the local builder")
    if shutil.which("cargo") is None:
        raise InfrastructureError("neither a Docker engine nor cargo is available for the demo")
    return "local", None


def render_config(
    setup_dir: Path,
    repo: SampleRepo,
    builder: str,
    rust_image: str | None,
    live_port: int,
    service: str = DEMO_SERVICE,
) -> str:
    lines = [
        "# Written by `build-monitor demo`.",
        "[storage]",
        f'database_url = "sqlite:///{setup_dir / "history.db"}"',
        f'cache_dir = "{setup_dir / "cache"}"',
        "",
        "[[services]]",
        f'name = "{service}"',
        f'repo = "{repo.path}"',
        f'branch = "{repo.branch}"',
        f'builder = "{builder}"',
        "build_timeout_seconds = 600",
        "retries = 1",
    ]
    if rust_image:
        lines.append(f'build_args = {{ RUST_IMAGE = "{rust_image}" }}')
    lines += ["", "[services.health]", "port = 8000", 'path = "/health"', "timeout_seconds = 30"]
    if builder == "local":
        lines.append(f'command = "target/release/{repo.binary}"')
    # A confirmed culprit rolls the service back by itself: the docker builder redeploys the
    # last good image to the live container; the local builder pushes a tested revert branch.
    strategy = "redeploy" if builder == "docker" else "revert"
    lines += ["", "[services.rollback]", "auto = true", f'strategy = "{strategy}"']
    # The sample history is dated 2024 (reproducible shas); the age gate would refuse it.
    lines.append("max_culprit_age_hours = 1000000")
    if builder == "docker":
        lines.append(f"host_port = {live_port}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)
    return text


def prepare_demo(
    directory: Path,
    choice: BuilderChoice,
    progress: Callable[[str], None],
    service: str = DEMO_SERVICE,
) -> DemoSetup:
    """A fresh demo directory: sample repository (good commits, then a break) and config."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    builder, rust_image = pick_builder(choice, progress)
    repo = create_sample_service(
        directory / "repo",
        scenario="test_failure",
        good_commits=3,
        commits_after_break=0,
        name=DEMO_SERVICE,
    )
    config_path = directory / "config.toml"
    config_path.write_text(
        render_config(directory, repo, builder, rust_image, free_port(), service)
    )
    return DemoSetup(directory, config_path, repo, builder, rust_image)
