"""The bisect flow at test level, on a generated Rust repository with the local builder: an
unrelated test fails on the commits just before the culprit while the target test passes
there, which the one-signature search could only call untestable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from build_monitor.cli import app
from build_monitor.history.db import session_scope
from build_monitor.history.models import Bisection, Build, TestResult
from build_monitor.sample.service import SampleRepo, add_commit, create_sample_service
from build_monitor.sample.sources import SampleSource, service_files
from tests.flows.test_bisect import bisect_cli, local_config

pytestmark = pytest.mark.prefect
runner = CliRunner()

TARGET = "tests::predict_doubles_input [unittests src/main.rs]"
OTHER = "tests::warm_cache_hits"


def repo_with_other_failures_before_the_culprit(path: Path) -> tuple[SampleRepo, list[str]]:
    """5 good commits; 3 where only `warm_cache_hits` fails; the culprit (the prediction
    test breaks, the other is fixed); 2 more. Returns the repo and the 3 commits."""
    name = "sample-svc"
    repo = create_sample_service(path, scenario="good", good_commits=5, name=name)
    source = SampleSource(revision=5)
    others = []
    for step in range(3):
        source = replace(source, revision=source.revision + 1, flake_per_million=1_000_000)
        others.append(add_commit(path, f"Cache tweak {step + 1}", service_files(name, source)))
    source = replace(
        source, revision=source.revision + 1, flake_per_million=0, predict_off_by_one=True
    )
    culprit = add_commit(path, "Calibrate predictions", service_files(name, source))
    commits = [*repo.commits, *others, culprit]
    for step in range(2):
        source = replace(source, revision=source.revision + 1)
        commits.append(add_commit(path, f"Follow-up {step + 1}", service_files(name, source)))
    return replace(repo, commits=commits, culprit=culprit, good=repo.commits[-1]), others


def test_an_unrelated_failing_test_does_not_hide_the_culprit(
    tmp_path: Path, prefect_api_url: str
) -> None:
    repo, others = repo_with_other_failures_before_the_culprit(tmp_path / "repo-h1")
    config = local_config(tmp_path, repo, health=False)
    exit_code, report = bisect_cli(config, "--good", repo.commits[0], "--parallel", "2")
    assert (exit_code, report["status"], report["culprit"]) == (0, "confirmed", repo.culprit), (
        report["reason"]
    )
    assert report["target_tests"] == [TARGET]
    probes = report["probes"]
    assert isinstance(probes, list)
    # The commit before the culprit must pass for the culprit to be confirmed: it was probed,
    # its other test failed, and its target test passed, so it counted as good.
    at_others = [p for p in probes if p["commit"] in others and not p["cached"]]
    assert at_others, probes
    for probe in at_others:
        assert probe["outcome"] == "failed"
        assert probe["tests"]["target"] == {TARGET: "passed"}
        assert probe["tests"]["failed"] == 1 and OTHER in probe["tests"]["failed_tests"][0]
    culprit_runs = [p for p in probes if p["commit"] == repo.culprit]
    assert culprit_runs and all(p["tests"]["target"] == {TARGET: "failed"} for p in culprit_runs)
    # One count of builds: every probe that ran (the bad commit's first build included).
    assert report["builds"] == len([p for p in probes if not p["cached"]]) + 1
    assert f"after {report['builds']} builds" in str(report["reason"])

    with session_scope(f"sqlite:///{tmp_path / 'history.db'}") as session:
        stored = session.get(Bisection, report["bisection_id"])
        assert stored is not None and stored.builds == report["builds"]
        builds = session.exec(select(Build).where(Build.trigger == "bisect")).all()
        assert len(builds) == report["builds"]
        failed_other = session.exec(
            select(TestResult).where(
                col(TestResult.name) == OTHER, col(TestResult.outcome) == "failed"
            )
        ).all()
    assert failed_other and {r.binary for r in failed_other} == {"unittests src/main.rs"}


def test_an_infrastructure_error_is_one_line_without_a_traceback(
    tmp_path: Path, prefect_api_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    repo = create_sample_service(tmp_path / "repo-h1-infra", scenario="good", good_commits=3)
    config = local_config(
        tmp_path, repo, health=False, retries=0, local={"build_command": "h1-no-such-program"}
    )
    result = runner.invoke(
        app, ["bisect", "svc", "--config", str(config), "--good", repo.commits[0]]
    )
    assert result.exit_code == 2, result.output
    assert "h1-no-such-program not found on this machine" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # Prefect's own log lines (on the process's stderr): the run failed, with no traceback.
    assert any("Finished in state Failed" in r.getMessage() for r in caplog.records)
    tracebacks = [r for r in caplog.records if r.exc_info and r.exc_info[0] is not None]
    assert [r.getMessage() for r in tracebacks] == []
    with session_scope(f"sqlite:///{tmp_path / 'history.db'}") as session:
        [stored] = session.exec(select(Bisection)).all()
    assert stored.status.value == "error" and "not found" in (stored.reason or "")
