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
# build-monitor's default test command: libtest names every test (`test NAME ... ok`), which
# test-level evidence needs; `-q` prints only the failures' names.
VERBOSE_TEST_COMMAND = "cargo test --release"


@dataclass(frozen=True)
class RepoPath:
    """A repository the benchmarks built themselves (not a generated sample service)."""

    path: Path
    branch: str = "main"


@dataclass(frozen=True)
class Run:
    tool: str
    blamed: str | None
    builds: int
    seconds: float
    # Seconds of each build and test it ran (build-monitor: cached evidence excluded).
    probe_seconds: tuple[float, ...] = ()
    reason: str = ""

    @property
    def outside_builds(self) -> float:
        """Wall seconds not spent in the build and test commands: the tool's own cost."""
        return self.seconds - sum(self.probe_seconds)


def create_flaky_other_test_service(
    path: Path, *, culprit_index: int, commits: int, flake_rate: float, name: str = "sample-svc"
) -> SampleRepo:
    """The sample service where `tests::warm_cache_hits` fails on `flake_rate` of runs at every
    commit (an unrelated flaky test) and `tests::predict_doubles_input` breaks for good at
    `culprit_index` (the real break), one commit per revision."""
    from build_monitor.sample.service import AUTHORS, BRANCH, TEST_FAILURE_SIGNATURE
    from build_monitor.sample.sources import SampleSource, service_files

    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", f"--initial-branch={BRANCH}", str(path)], check=True)
    shas = []
    for index in range(commits):
        source = SampleSource(
            revision=index + 1,
            predict_off_by_one=index >= culprit_index,
            flake_per_million=round(flake_rate * 1_000_000),
        )
        for relative, text in service_files(name, source).items():
            (path / relative).parent.mkdir(parents=True, exist_ok=True)
            (path / relative).write_text(text)
        author, email = AUTHORS[index % len(AUTHORS)]
        date = f"{1_704_067_200 + index * 600} +0000"
        identity = {"NAME": author, "EMAIL": email, "DATE": date}
        env = {**os.environ} | {
            f"GIT_{who}_{k}": v for who in ("AUTHOR", "COMMITTER") for k, v in identity.items()
        }
        message = "Calibrate predictions" if index == culprit_index else f"Revision {index + 1}"
        subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", message], check=True, env=env)
        shas.append(
            subprocess.run(
                ["git", "-C", str(path), "rev-parse", "HEAD"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
    return SampleRepo(
        path=path,
        branch=BRANCH,
        commits=shas,
        good=shas[culprit_index - 1],
        culprit=shas[culprit_index],
        binary=name,
        expected_signature=TEST_FAILURE_SIGNATURE,
    )


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


def git_bisect_run(
    repo: SampleRepo | RepoPath,
    workdir: Path,
    *,
    good: str,
    bad: str,
    build: str = BUILD_COMMAND,
    test: str = TEST_COMMAND,
) -> Run:
    clone = workdir / "git-bisect"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    counter = workdir / "git-bisect-builds"
    counter.write_text("")
    script = workdir / "git-bisect-build.sh"
    script.write_text(
        "#!/bin/sh\n"
        "start=$(date +%s.%N)\n"
        f"export CARGO_TARGET_DIR={workdir / 'git-bisect-target'}\n"
        f"{build} && {test}\n"
        "status=$?\n"
        f'echo "$start $(date +%s.%N)" >> {counter}\n'
        "exit $status\n"
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
    spans = [tuple(map(float, line.split())) for line in counter.read_text().splitlines()]
    build_seconds = tuple(end - start for start, end in spans)
    return Run("git bisect run", blamed, len(spans), seconds, build_seconds)


def write_config(
    repo: SampleRepo | RepoPath,
    workdir: Path,
    name: str = "bench",
    *,
    build: str = BUILD_COMMAND,
    test: str = TEST_COMMAND,
    parallel: int | None = None,
) -> Path:
    """A config with one local-builder service; a fresh database and cache dir per `name`."""
    path = workdir / f"{name}.toml"
    bisect = f"\n[services.bisect]\nparallel = {parallel}\n" if parallel else ""
    path.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{workdir / (name + ".db")}"\n'
        f'cache_dir = "{workdir / (name + "-cache")}"\n\n'
        f'[[services]]\nname = "{name}"\nrepo = "{repo.path}"\nbranch = "{repo.branch}"\n'
        'builder = "local"\nbuild_timeout_seconds = 900\n\n'
        f'[services.local]\nbuild_command = "{build}"\ntest_command = "{test}"\n{bisect}'
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
        "build-monitor bisect",
        report["culprit"],
        int(report["builds"]),
        seconds,
        probe_seconds,
        str(report.get("reason", "")),
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
