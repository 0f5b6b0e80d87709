"""`build-monitor bisect` as a user runs it (a process of its own, the local builder, real cargo)
on a generated history of a std-only crate where some commits name a git dependency whose source
cannot be reached. Where the other commits build, that error belongs to those commits: they are
untestable, named as such, and not retried as infrastructure errors. Where every commit fails
so, it is the machine's: exit 2 and one line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import col, select

from build_monitor.history.db import session_scope
from build_monitor.history.models import Bisection, Build
from build_monitor.sample.service import SampleRepo, add_commit, create_sample_service
from build_monitor.sample.sources import SampleSource, render_template, service_files
from tests.configs import service_table, write_config

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

BUILD_MONITOR = Path(sys.executable).parent / "build-monitor"
NAME = "dep-svc"
# Nothing listens on 127.0.0.1:9 (discard): cargo's clone is refused at once, offline too.
SOURCE = "http://127.0.0.1:9/missing.git"
UNREACHABLE = f"dependency source unreachable: `missing_dep` ({SOURCE})"
COMMITS, CULPRIT, BROKEN = 16, 12, (7, 8)  # the culprit's parent (11) builds
RETRIES = 1  # the service's infrastructure retries within one probe
ERROR_RETRIES = 1  # the search's re-probes of a commit whose probe ended in `error` (default)


def write_history(path: Path, broken: set[int]) -> SampleRepo:
    """COMMITS commits: `tests::predict_doubles_input` fails from CULPRIT on, and the commits
    at `broken` depend on the unreachable git source. Every commit touches src/main.rs, the
    file the failure names, so the search's prior stays uniform and its probes land mid-range,
    on the broken commits."""
    repo = create_sample_service(path, scenario="good", good_commits=1, name=NAME)
    commits = list(repo.commits)
    dependency = f'missing_dep = {{ git = "{SOURCE}" }}'
    for index in range(1, COMMITS):
        source = replace(SampleSource(revision=index + 1), predict_off_by_one=index >= CULPRIT)
        files = service_files(NAME, source)
        files["src/main.rs"] += f"\n// step {index}\n"
        if index in broken:
            files["Cargo.toml"] = render_template("Cargo.toml", NAME=NAME, DEPENDENCIES=dependency)
        commits.append(add_commit(path, f"Step {index}", files))
    return replace(repo, commits=commits, good=commits[0], culprit=commits[CULPRIT])


def run_bisect(
    tmp_path: Path, repo: SampleRepo, prefect_api_url: str
) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path, service_table(repo, health=False, retries=RETRIES))
    environment = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        # Cargo's own network retries cut from 3 (~11 s a build) to 1: the same output
        # ("spurious network error" warnings, then the error) in a second. A cargo home of
        # the test's own keeps its failed git clones out of ~/.cargo.
        "CARGO_NET_RETRY": "1",
        "CARGO_HOME": str(tmp_path / "cargo-home"),
    }
    good, bad = repo.commits[0], repo.commits[-1]
    command = [str(BUILD_MONITOR), "bisect", "svc", "--good", good, "--bad", bad, "--json"]
    return subprocess.run(
        [*command, "--config", str(config)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def recorded(tmp_path: Path) -> tuple[list[Build], Bisection]:
    with session_scope(f"sqlite:///{tmp_path / 'history.db'}") as session:
        builds = list(session.exec(select(Build).order_by(col(Build.id))).all())
        [bisection] = session.exec(select(Bisection)).all()
        for row in [*builds, bisection]:
            session.expunge(row)
    return builds, bisection


def test_a_commit_specific_dependency_failure_is_untestable_and_not_retried(
    tmp_path: Path, prefect_api_url: str, data_dir: Path
) -> None:
    repo = write_history(tmp_path / "repo", set(BROKEN))
    done = run_bisect(tmp_path, repo, prefect_api_url)

    assert "Traceback" not in done.stderr, done.stderr[-4000:]
    assert done.stdout, done.stderr[-4000:]
    report = json.loads(done.stdout)
    assert (done.returncode, report["status"], report["culprit"]) == (
        0,
        "confirmed",
        repo.culprit,
    ), report["reason"]

    builds, bisection = recorded(tmp_path)
    broken = {repo.commits[index] for index in BROKEN}
    built_broken = {b.commit for b in builds} & broken
    assert built_broken, "the search never met a broken commit: this test tests nothing"
    for commit in built_broken:
        rows = [b for b in builds if b.commit == commit]
        assert {(b.status.value, b.signature) for b in rows} == {("error", UNREACHABLE)}
        # The bad commit had built before: no infrastructure retry within a probe, and no more
        # probes than the search's own re-probes of an error; after the error reproduced, none.
        assert [b.attempts for b in rows] == [1] * len(rows)
        assert len(rows) <= 1 + ERROR_RETRIES <= 1 + RETRIES

    # The window is a fact: the probed broken commits, and the reason naming the source.
    windows = report["untestable_windows"]
    assert windows and all(w["reason"] == UNREACHABLE for w in windows), windows
    positions = {commit: index for index, commit in enumerate(repo.commits)}
    in_windows = {
        commit
        for w in windows
        for commit in repo.commits[positions[w["first"]] : positions[w["last"]] + 1]
    }
    assert built_broken <= in_windows <= broken
    assert f"cannot test it ({UNREACHABLE})" in report["reason"]

    # One count: the builds reported are the builds recorded, in the probes and in the database.
    assert report["builds"] == len(builds) == bisection.builds
    assert report["builds"] == len([p for p in report["probes"] if not p["cached"]]) + 1
    assert f"after {report['builds']} builds" in report["reason"]


def test_an_unreachable_source_at_every_commit_is_one_line_and_exit_2(
    tmp_path: Path, prefect_api_url: str, data_dir: Path
) -> None:
    repo = write_history(tmp_path / "repo", set(range(1, COMMITS)))
    done = run_bisect(tmp_path, repo, prefect_api_url)

    assert done.returncode == 2, done.stderr[-4000:]
    assert done.stdout == ""
    assert "Traceback" not in done.stderr, done.stderr[-4000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    bad = repo.commits[-1][:10]
    assert errors == [f"error: cannot build {bad} to learn its failure: {UNREACHABLE}"]

    builds, bisection = recorded(tmp_path)
    # Nothing had built yet, so the machine was given its retry before the bisection stopped.
    assert [(b.commit, b.status.value, b.attempts) for b in builds] == [
        (repo.commits[-1], "error", 1 + RETRIES)
    ]
    assert bisection.status.value == "error" and UNREACHABLE in (bisection.reason or "")
