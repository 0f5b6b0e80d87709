"""The history and git tasks' bodies on a real repository mirror and SQLite history."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_monitor.bisection import ProbeOutcome
from build_monitor.builders.result import StepResult
from build_monitor.config import load_config
from build_monitor.errors import GitError
from build_monitor.history.models import BuildStage, BuildStatus, ServiceState
from tasks.git import fetch_repository, list_commit_range, resolve_branch_head, resolve_commit_info
from tasks.history import (
    find_built_commits,
    find_last_passing_ancestor,
    find_recorded_observations,
    read_log_excerpt,
    read_service_state,
    record_build_result,
    record_build_start,
    register_service,
)
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory


def test_what_the_history_tells_the_monitor_and_the_bisection(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("compile_error", good_commits=3, commits_after_break=1)
    config = load_config(write_config(tmp_path, service_table(repo, health=False)))
    service = config.service("svc")
    mirror = fetch_repository.fn(service, config.cache_dir)
    assert resolve_branch_head.fn(mirror, service.branch).sha == repo.commits[-1]
    # A pushed commit on the branch resolves to the head that holds it (pushes coalesce).
    assert resolve_branch_head.fn(mirror, service.branch, repo.commits[1]).sha == repo.commits[-1]
    with pytest.raises(GitError):
        resolve_branch_head.fn(mirror, service.branch, "f" * 40)
    assert read_service_state.fn(config, "svc") is ServiceState.unknown

    outcomes = {
        repo.commits[0]: StepResult(status=BuildStatus.passed),
        repo.commits[1]: StepResult(status=BuildStatus.passed),
        repo.commits[3]: StepResult(
            status=BuildStatus.failed, stage=BuildStage.build, signature="E", log_excerpt="log"
        ),
    }
    for sha, result in outcomes.items():
        info = resolve_commit_info.fn(mirror, sha)
        build_id = record_build_start.fn(config, service, info, "test", None)
        record_build_result.fn(config, build_id, result, True)

    head = repo.commits[-1]
    assert find_last_passing_ancestor.fn(config, service, mirror, head) == repo.commits[1]
    assert find_last_passing_ancestor.fn(config, service, mirror, repo.commits[0]) is None
    assert find_built_commits.fn(config, "svc", repo.commits) == set(outcomes)
    recorded = find_recorded_observations.fn(config, service, repo.commits)
    assert [(o.commit, o.outcome, o.cached) for o in recorded] == [
        (repo.commits[0], ProbeOutcome.PASSED, True),
        (repo.commits[1], ProbeOutcome.PASSED, True),
        (repo.commits[3], ProbeOutcome.FAILED, True),
    ]
    assert read_log_excerpt.fn(config, "svc", repo.commits[3]) == "log"
    assert read_log_excerpt.fn(config, "svc", repo.commits[2]) is None
    assert read_service_state.fn(config, "svc") is ServiceState.failing
    assert register_service.fn(config, service) is ServiceState.failing
    after = list_commit_range.fn(mirror, since=repo.commits[1], until=head)
    assert [c.sha for c in after] == repo.commits[2:]
