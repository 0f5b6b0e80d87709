"""Shared by the real-repository benchmarks: generated histories, `git bisect run` as the
baseline, and `build-monitor bisect` driven through its command line, timed the same way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from build_monitor.sample.service import SampleRepo  # noqa: E402

BUILD_COMMAND = "cargo build --release -q"
TEST_COMMAND = "cargo test --release -q"


@dataclass(frozen=True)
class Run:
    tool: str
    blamed: str | None
    builds: int
    seconds: float
    # build-monitor only: seconds of each probe it ran (cached evidence excluded)
    probe_seconds: tuple[float, ...] = ()


def cli() -> str:
    found = shutil.which("build-monitor", path=str(Path(sys.executable).parent))
    if not found:
        sys.exit("build-monitor is not installed in this Python environment (./run setup)")
    return found


def ensure_prefect_api() -> str:
    """Start (or find) the local Prefect server once, before anything is timed."""
    from build_monitor.prefect_runtime import resolve_api_url

    url = os.environ.get("PREFECT_API_URL") or resolve_api_url(print)
    os.environ["PREFECT_API_URL"] = url
    return url


def git_bisect_run(repo: SampleRepo, workdir: Path, *, good: str, bad: str) -> Run:
    clone = workdir / "git-bisect"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    counter = workdir / "git-bisect-builds"
    counter.write_text("")
    script = workdir / "git-bisect-build.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"echo x >> {counter}\n"
        f"export CARGO_TARGET_DIR={workdir / 'git-bisect-target'}\n"
        f"{BUILD_COMMAND} && {TEST_COMMAND}\n"
    )
    script.chmod(0o755)
    git = ["git", "-C", str(clone)]
    started = time.monotonic()
    subprocess.run([*git, "bisect", "start", bad, good], check=True, capture_output=True)
    run = subprocess.run([*git, "bisect", "run", str(script)], capture_output=True, text=True)
    seconds = time.monotonic() - started
    blamed = None
    if "is the first bad commit" in run.stdout:
        blamed = subprocess.run(
            [*git, "rev-parse", "refs/bisect/bad"], capture_output=True, text=True, check=True
        ).stdout.strip()
    builds = len(counter.read_text().splitlines())
    return Run("git bisect run", blamed, builds, seconds)


def write_config(repo: SampleRepo, workdir: Path, name: str = "bench") -> Path:
    path = workdir / f"{name}.toml"
    path.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{workdir / (name + ".db")}"\n'
        f'cache_dir = "{workdir / (name + "-cache")}"\n\n'
        f'[[services]]\nname = "{name}"\nrepo = "{repo.path}"\nbranch = "{repo.branch}"\n'
        'builder = "local"\nbuild_timeout_seconds = 900\n\n'
        f'[services.local]\nbuild_command = "{BUILD_COMMAND}"\ntest_command = "{TEST_COMMAND}"\n'
    )
    return path


def build_monitor_bisect(
    config: Path, *, good: str, bad: str, name: str = "bench", extra: tuple[str, ...] = ()
) -> Run:
    started = time.monotonic()
    completed = subprocess.run(
        [
            cli(),
            "bisect",
            name,
            "--config",
            str(config),
            "--good",
            good,
            "--bad",
            bad,
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if not completed.stdout.strip():
        sys.exit(f"build-monitor bisect failed:\n{completed.stderr[-3000:]}")
    report = json.loads(completed.stdout)
    probe_seconds = tuple(
        float(probe["duration_s"]) for probe in report["probes"] if not probe.get("cached")
    )
    return Run(
        "build-monitor bisect", report["culprit"], int(report["builds"]), seconds, probe_seconds
    )


def record_failing_head(config: Path, *, bad: str, name: str = "bench") -> None:
    """What the monitor did before any bisection: build the bad commit and record its failure
    (untimed; git bisect is simply told the commit is bad)."""
    completed = subprocess.run(
        [cli(), "check", name, "--config", str(config), "--commit", bad, "--json"],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 1:
        sys.exit(f"expected the bad commit to fail:\n{completed.stdout[-2000:]}")
