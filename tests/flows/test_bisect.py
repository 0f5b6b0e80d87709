"""The bisect flow on real generated Rust repositories, against a real Prefect server.

It must be right on a compile error, a failing test, a failing health check, an untestable
window of an unrelated compile error before the real culprit, and a flaky test plus a real break;
and `git bisect run` on the same repository gets the untestable window wrong."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from typer.testing import CliRunner

from build_monitor.cli import app
from build_monitor.history.db import session_scope
from build_monitor.history.models import Bisection, BisectProbe, Build
from build_monitor.sample.service import SampleRepo
from flows.check import check_commit
from flows.monitor import monitor
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory

pytestmark = pytest.mark.prefect
runner = CliRunner()


def bisect_cli(config: Path, *args: str, service: str = "svc") -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["bisect", service, "--config", str(config), "--json", *args])
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def local_config(tmp_path: Path, repo: SampleRepo, **extra: object) -> Path:
    return write_config(tmp_path, service_table(repo, builder="local", **extra))


@pytest.mark.parametrize(
    ("scenario", "good_commits"),
    [("compile_error", 9), ("test_failure", 12), ("health_failure", 6)],
)
def test_bisect_names_the_culprit(
    scenario: str,
    good_commits: int,
    prefect_api_url: str,
    sample_repo: SampleRepoFactory,
    tmp_path: Path,
) -> None:
    repo = sample_repo(scenario, good_commits=good_commits, commits_after_break=3)
    config = local_config(tmp_path, repo)
    exit_code, report = bisect_cli(config, "--good", repo.commits[0])
    assert exit_code == 0, report
    assert report["status"] == "confirmed"
    assert report["culprit"] == repo.culprit
    assert report["signature"] == repo.expected_signature
    assert report["culprit_subject"] and report["culprit_author"]
    candidates = len(repo.commits) - 1
    # Deterministic failures: no more than ceil(log2 N) + 2 builds, verification included,
    # plus the one build of the bad commit that taught the search its failure signature.
    assert report["builds"] <= (candidates - 1).bit_length() + 3, report["probes"]
    probes = report["probes"]
    assert isinstance(probes, list)
    assert {"commit", "outcome", "signature", "duration_s"} <= set(probes[0])


@pytest.mark.docker
def test_docker_probes_with_buildkit_cache_mounts_name_the_culprit(
    prefect_api_url: str,
    rust_image: str,
    sample_repo: SampleRepoFactory,
    tmp_path: Path,
    docker_service_name: str,
) -> None:
    repo = sample_repo("test_failure", good_commits=6, commits_after_break=2, cache_mounts=True)
    config = write_config(
        tmp_path,
        service_table(
            repo,
            name=docker_service_name,
            builder="docker",
            rust_image=rust_image,
            buildkit=True,
            health=False,
        ),
    )
    exit_code, report = bisect_cli(config, "--good", repo.commits[0], service=docker_service_name)
    assert exit_code == 0, report
    assert (report["status"], report["culprit"]) == ("confirmed", repo.culprit)
    assert report["signature"] == repo.expected_signature
    probes = report["probes"]
    assert isinstance(probes, list)
    culprit_runs = [p for p in probes if p["commit"] == repo.culprit and not p.get("cached")]
    assert len(culprit_runs) >= 1 and all(p["outcome"] == "failed" for p in culprit_runs)


def test_untestable_window_is_skipped_where_git_bisect_blames_it(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("untestable_window", good_commits=4, untestable_span=3)
    assert repo.good is not None and repo.untestable
    config = local_config(tmp_path, repo, health=False)
    exit_code, report = bisect_cli(config, "--good", repo.good)
    assert (exit_code, report["culprit"]) == (0, repo.culprit), report
    untestable = {p["commit"] for p in report["probes"] if p["outcome"] == "failed"} & set(  # type: ignore[index,union-attr]
        repo.untestable
    )
    assert untestable, "the search should have met the window and skipped it"

    blamed = git_bisect_run(repo, good=repo.good, bad=repo.commits[-1], workdir=tmp_path)
    assert blamed in repo.untestable, "git bisect run is expected to blame the window"
    assert blamed != repo.culprit


def test_flaky_test_plus_real_break(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("flaky_break", good_commits=10, commits_after_break=2, flake_rate=0.2)
    # The flakes are real randomness: a higher confidence keeps this test's own error rate
    # (0.15% at 0.99, none in 2,000 simulated 12-commit ranges at 0.999) negligible.
    config = local_config(tmp_path, repo, health=False, bisect={"confidence": 0.999})
    exit_code, report = bisect_cli(config, "--good", repo.commits[0], "--flake-prior", "0.2")
    assert (exit_code, report["status"], report["culprit"]) == (0, "confirmed", repo.culprit), (
        report["reason"]
    )


def git_bisect_run(repo: SampleRepo, *, good: str, bad: str, workdir: Path) -> str:
    """Plain `git bisect run` with the same build command, in a clone of its own."""
    clone = workdir / "git-bisect-clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    script = clone.parent / "build.sh"
    script.write_text(
        f"#!/bin/sh\nexport CARGO_TARGET_DIR={workdir / 'git-bisect-target'}\n"
        "cargo build --release -q && cargo test --release -q\n"
    )
    script.chmod(0o755)
    git = ["git", "-C", str(clone)]
    subprocess.run([*git, "bisect", "start", bad, good], check=True, capture_output=True)
    run = subprocess.run(
        [*git, "bisect", "run", str(script)], capture_output=True, text=True, timeout=600
    )
    first_bad = subprocess.run(
        [*git, "rev-parse", "refs/bisect/bad"], capture_output=True, text=True, check=True
    )
    assert "is the first bad commit" in run.stdout, run.stdout[-2000:]
    return first_bad.stdout.strip()


def test_monitor_starts_a_bisection_when_a_service_turns_red(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("test_failure", good_commits=5, commits_after_break=2)
    config = str(local_config(tmp_path, repo, health=False))
    check_commit(service="svc", commit=repo.commits[0], config_path=config)
    result = monitor(service="svc", config_path=config)
    bisection = result["bisection"]
    assert isinstance(bisection, dict)
    assert bisection["culprit"] == repo.culprit
    assert bisection["good"] == repo.commits[0]
    with session_scope(f"sqlite:///{tmp_path / 'history.db'}") as session:
        stored = session.query(Bisection).one()
        probes = session.query(BisectProbe).filter_by(bisection_id=stored.id).all()
        bisect_builds = session.query(Build).filter_by(trigger="bisect").count()
    assert (stored.status.value, stored.culprit, stored.trigger) == (
        "confirmed",
        repo.culprit,
        "monitor",
    )
    assert stored.report and repo.culprit[:10] in stored.report  # type: ignore[index]
    assert len(probes) == bisect_builds == bisection["builds"]
    # It beat after it started (the row's own stamp is older), so `history` on another host
    # does not take a long bisection for a dead one.
    assert stored.heartbeat_at is not None and stored.heartbeat_at > stored.started_at


def test_a_second_bisection_reuses_recorded_builds(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("compile_error", good_commits=12, commits_after_break=3)
    config = local_config(tmp_path, repo, health=False)
    _, first = bisect_cli(config, "--good", repo.commits[0])
    _, second = bisect_cli(config, "--good", repo.commits[0])
    assert first["culprit"] == second["culprit"] == repo.culprit
    reused = [p for p in second["probes"] if p["cached"]]  # type: ignore[union-attr]
    assert len(reused) >= first["builds"]  # type: ignore[operator]
    assert second["builds"] < first["builds"]  # type: ignore[operator]


def test_culprit_report_is_a_markdown_artifact_with_a_stable_key(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    import asyncio

    repo = sample_repo("compile_error", good_commits=3)
    config = local_config(tmp_path, repo, health=False)
    _, report = bisect_cli(config, "--good", repo.commits[0])

    async def latest_artifact() -> str:
        async with get_client() as client:
            artifact = await client.read_latest_artifacts()  # type: ignore[call-arg]
            found = [a for a in artifact if a.key == "culprit-svc"]
            return str(found[0].data) if found else ""

    markdown = asyncio.run(latest_artifact())
    assert repo.culprit is not None and repo.culprit in markdown
    assert "## Probes" in markdown and "## Diffstat" in markdown
    assert "error[E0308]" in markdown
    assert markdown == report["report"]

    history = runner.invoke(app, ["history", "svc", "--config", str(config), "--json"])
    bisections = json.loads(history.stdout)["bisections"]
    assert [(b["culprit"], b["status"], b["report"]) for b in bisections] == [
        (repo.culprit, "confirmed", markdown)
    ]
    assert bisections[0]["probes"], "every probe is recorded"
    text = runner.invoke(app, ["history", "svc", "--config", str(config)]).stdout
    assert f"culprit {repo.culprit[:10]}" in text and "## Probes" in text


def test_bad_input(prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path) -> None:
    repo = sample_repo("compile_error", good_commits=2)
    config = local_config(tmp_path, repo, health=False)
    result = runner.invoke(app, ["bisect", "svc", "--config", str(config)])
    assert result.exit_code == 2
    assert "no passing build" in result.stderr and "--good" in result.stderr
    result = runner.invoke(
        app, ["bisect", "svc", "--config", str(config), "--good", repo.commits[-1]]
    )
    assert result.exit_code == 2 and "is not an ancestor" in result.stderr


def test_the_flake_prior_is_learned_from_earlier_bisections_of_the_same_failure(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    from build_monitor.config import load_config
    from build_monitor.history.models import BisectionStatus

    repo = sample_repo("test_failure", good_commits=8, commits_after_break=2)
    config = local_config(tmp_path, repo, health=False)
    _, fresh = bisect_cli(config, "--good", repo.commits[0])
    assert fresh["flake_prior"] == 0.01  # no history of flakes yet: the default

    # An earlier bisection of the same failure saw the test fail twice in five runs at a
    # commit before its culprit, and once with another signature (which says nothing).
    database_url = load_config(config).database_url
    with session_scope(database_url) as session:
        earlier = Bisection(
            service="svc",
            good=repo.commits[0],
            bad=repo.commits[-1],
            status=BisectionStatus.confirmed,
            culprit=repo.culprit,
            signature=repo.expected_signature,
        )
        session.add(earlier)
        session.flush()
        runs = [("passed", None)] * 3 + [("failed", repo.expected_signature)] * 2
        runs += [("failed", "error[E0425]: cannot find value")]
        for outcome, signature in runs:
            session.add(
                BisectProbe(
                    bisection_id=earlier.id or 0,
                    commit=repo.commits[2],
                    outcome=outcome,
                    signature=signature,
                )
            )

    # The first bisection's own fresh passes at good commits count too.
    good_commits = set(repo.commits[: repo.commits.index(repo.culprit or "")])
    fresh_good_runs = sum(
        1
        for probe in fresh["probes"]  # type: ignore[union-attr]
        if not probe["cached"] and probe["commit"] in good_commits
    )
    exit_code, learned = bisect_cli(config, "--good", repo.commits[0])
    assert exit_code == 0 and learned["culprit"] == repo.culprit
    assert learned["flake_prior"] == pytest.approx((0.01 * 2 + 2) / (2 + 5 + fresh_good_runs))
    _, given = bisect_cli(config, "--good", repo.commits[0], "--flake-prior", "0.05")
    assert given["flake_prior"] == 0.05
