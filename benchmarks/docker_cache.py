"""A docker-builder probe with a cold versus a warm Docker cache.

Usage: .venv/bin/python benchmarks/docker_cache.py [--functions 1500] [--commits 3]

Builds successive commits of the sample service with its own multi-stage Dockerfile: first
with the layer cache disabled (cold), then each next commit with the cache the previous probes
left (warm), as successive bisection probes do. Two layouts, each with `--functions` generated
functions so a compile takes seconds:
  dependency  the code is a path-dependency crate no commit changes, and the Dockerfile builds
              dependencies in their own layer (the usual Rust Dockerfile pattern): the layer
              cache turns a probe into an incremental build of the service crate alone;
  in-crate    the code is part of the service crate itself: every commit recompiles it, and
              the layer cache only saves the steps before `COPY . .`;
  dependency-buildkit  the dependency layout built with BuildKit (`buildkit = true`);
  cache-mount-buildkit the code in the service crate, built with BuildKit by a Dockerfile whose
              `RUN --mount=type=cache` keeps target/ and the cargo registry between builds.
Prints each time and the cold/warm ratio of each layout (cold: no layer cache, and for BuildKit
fresh cache mounts).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker
import docker.errors

from build_monitor.builders.docker import SERVICE_LABEL, build_image
from build_monitor.config import ServiceConfig
from build_monitor.git.repo import sync_repository
from build_monitor.git.worktrees import build_worktree
from build_monitor.sample.rust_image import ensure_rust_image
from build_monitor.sample.service import create_sample_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--functions", type=int, default=1500)
    parser.add_argument("--commits", type=int, default=3)
    args = parser.parse_args()
    if not 2 <= args.commits <= 20:
        parser.error("--commits must be between 2 and 20")
    client = docker.from_env()
    rust_image = ensure_rust_image(client, progress=print)
    ratios = {}
    for layout in LAYOUTS:
        ratios[layout] = measure(client, rust_image, layout, args.functions, args.commits)
    print()
    for layout, (cold, warm) in ratios.items():
        print(f"{layout:<21} cold {cold:6.1f}s  warm {warm:6.1f}s  cold/warm {cold / warm:5.2f}x")


LAYOUTS = ("dependency", "in-crate", "dependency-buildkit", "cache-mount-buildkit")


def measure(
    client: docker.DockerClient, rust_image: str, layout: str, functions: int, commits: int
) -> tuple[float, float]:
    name = f"bench-cache-{uuid.uuid4().hex[:6]}"
    service = ServiceConfig(
        name=name,
        repo="/unused",
        build_args={"RUST_IMAGE": rust_image},
        build_timeout_seconds=900,
        buildkit=layout.endswith("buildkit"),
    )
    in_dependency = layout.startswith("dependency")
    timings: list[tuple[str, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bm-docker-cache-") as scratch:
        root = Path(scratch)
        repo = create_sample_service(
            root / "repo",
            scenario="good",
            good_commits=commits + 1,
            ballast_functions=0 if in_dependency else functions,
            dependency_functions=functions if in_dependency else 0,
            cache_mounts=layout == "cache-mount-buildkit",
        )
        mirror = sync_repository(
            repo_url=str(repo.path), branch=repo.branch, cache_dir=root / "cache", service=name
        )
        try:
            for index, commit in enumerate(repo.commits[1:]):
                kind = "cold" if index == 0 else "warm"
                with build_worktree(mirror, commit) as worktree:
                    started = time.monotonic()
                    result = build_image(
                        client,
                        service=service,
                        context=worktree,
                        commit=commit,
                        use_cache=kind == "warm",
                    )
                    seconds = time.monotonic() - started
                if not result.passed:
                    sys.exit(f"build of {commit[:10]} did not pass: {result.signature}")
                timings.append((kind, commit, seconds))
                print(f"{layout}: {kind} build of {commit[:10]}: {seconds:.1f}s", flush=True)
        finally:
            for image in client.images.list(filters={"label": f"{SERVICE_LABEL}={name}"}):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image.id, force=True)
    cold = timings[0][2]
    warm = sum(t for kind, _, t in timings if kind == "warm") / (len(timings) - 1)
    return cold, warm


if __name__ == "__main__":
    main()
