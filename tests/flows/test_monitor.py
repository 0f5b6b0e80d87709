"""The monitor flow on real repositories: what it builds, and the state it leaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_monitor.sample.service import add_commit
from build_monitor.sample.sources import render_main_rs
from flows.monitor import monitor
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory

pytestmark = pytest.mark.prefect


def test_builds_only_the_newest_then_nothing_then_the_new_head(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("good", good_commits=3)
    config = str(write_config(tmp_path, service_table(repo, builder="local", health=False)))
    first = monitor(service="svc", config_path=config)
    assert [b["commit"] for b in first["builds"]] == [repo.commits[-1]]  # type: ignore[index,union-attr]
    assert first["state"] == "healthy"
    assert monitor(service="svc", config_path=config)["builds"] == []
    new = add_commit(repo.path, "Document the API", {"API.md": "GET /health\n"})
    third = monitor(service="svc", config_path=config)
    assert [b["commit"] for b in third["builds"]] == [new]  # type: ignore[index,union-attr]


def test_build_each_commit_builds_every_new_commit_in_order_and_turns_red(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("compile_error", good_commits=2, commits_after_break=1)
    config = str(
        write_config(
            tmp_path, service_table(repo, builder="local", health=False, build_each_commit=True)
        )
    )
    result = monitor(service="svc", config_path=config)
    builds = result["builds"]
    assert [b["commit"] for b in builds] == repo.commits  # type: ignore[union-attr]
    assert [b["status"] for b in builds] == ["passed", "passed", "failed", "failed"]  # type: ignore[union-attr]
    assert result["state"] == "failing"


def test_recovers_when_a_fix_lands(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    from build_monitor.sample.sources import SampleSource

    repo = sample_repo("compile_error", good_commits=1, commits_after_break=0)
    config = str(write_config(tmp_path, service_table(repo, builder="local", health=False)))
    assert monitor(service="svc", config_path=config)["state"] == "failing"
    fixed = render_main_rs(SampleSource(revision=99))
    add_commit(repo.path, "Fix the port type", {"src/main.rs": fixed})
    assert monitor(service="svc", config_path=config)["state"] == "healthy"


def test_a_pushed_commit_not_on_the_branch_is_refused(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    from build_monitor.errors import GitError

    repo = sample_repo("good", good_commits=1)
    other = sample_repo("compile_error", good_commits=1)
    config = str(write_config(tmp_path, service_table(repo, builder="local", health=False)))
    with pytest.raises(GitError):
        monitor(service="svc", commit=other.commits[-1], config_path=config)
