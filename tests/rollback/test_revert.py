"""Strategy `revert` on real git with the local builder: the revert is built, tested and
health-checked, and only then pushed to a bare remote in tmp_path; a conflicting one is not."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from build_monitor.sample.service import SampleRepo, add_commit, create_sample_service
from tests.rollback.helpers import rollback_config, run_cli

pytestmark = [pytest.mark.prefect]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def bare_remote(repo: SampleRepo, tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo.path), str(remote))
    return remote


def remote_branches(remote: Path) -> set[str]:
    return set(git(remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split())


def test_a_culprit_revert_is_built_tested_and_pushed_once(
    prefect_api_url: str, tmp_path: Path
) -> None:
    repo = create_sample_service(
        tmp_path / "repo", scenario="test_failure", good_commits=2, commits_after_break=0
    )
    assert repo.culprit is not None and repo.good is not None
    follow_up = add_commit(repo.path, "Document the API", {"docs/api.md": "# API\n"})
    remote = bare_remote(repo, tmp_path)
    name = f"rv-{uuid.uuid4().hex[:8]}"
    config = rollback_config(
        tmp_path, remote, name=name, builder="local", rollback={"strategy": "revert"}
    )
    code, outcome = run_cli(
        "rollback",
        name,
        repo.good,
        "tests fail",
        "--culprit",
        repo.culprit,
        "--config",
        str(config),
    )
    assert (code, outcome["status"]) == (0, "succeeded"), (outcome["error"], outcome["steps"])
    branch = f"build-monitor/revert-{repo.culprit[:12]}"
    assert outcome["pushed_ref"] == branch
    assert [s["name"] for s in outcome["steps"]] == [
        "verify_target",
        "create_revert",
        "build_revert",
        "push_revert",
        "verify_revert",
    ]
    revert = outcome["revert_commit"]
    assert git(remote, "rev-parse", f"refs/heads/{branch}") == revert
    assert git(remote, "rev-parse", f"{revert}^") == follow_up
    assert f"This reverts commit {repo.culprit}." in git(remote, "log", "-1", "--format=%B", revert)
    assert "input * 2 + 1" not in git(remote, "show", f"{revert}:src/main.rs")
    # The service's own branch is untouched.
    assert git(remote, "rev-parse", "refs/heads/main") == follow_up

    code, again = run_cli(
        "rollback",
        name,
        repo.good,
        "tests fail",
        "--culprit",
        repo.culprit,
        "--config",
        str(config),
    )
    assert (code, again["status"]) == (0, "noop"), again
    assert git(remote, "rev-parse", f"refs/heads/{branch}") == revert


def test_a_conflicting_revert_is_refused_and_not_pushed(
    prefect_api_url: str, tmp_path: Path
) -> None:
    repo = create_sample_service(
        tmp_path / "repo", scenario="test_failure", good_commits=2, commits_after_break=0
    )
    assert repo.culprit is not None and repo.good is not None
    source = (repo.path / "src/main.rs").read_text()
    assert "input * 2 + 1" in source
    add_commit(
        repo.path,
        "Tune predictions further",
        {"src/main.rs": source.replace("input * 2 + 1", "input * 2 + 3")},
    )
    remote = bare_remote(repo, tmp_path)
    before = remote_branches(remote)
    head = git(remote, "rev-parse", "refs/heads/main")
    name = f"rv-{uuid.uuid4().hex[:8]}"
    config = rollback_config(
        tmp_path,
        remote,
        name=name,
        builder="local",
        rollback={"strategy": "revert", "push_to": "branch"},
    )
    code, outcome = run_cli(
        "rollback",
        name,
        repo.good,
        "tests fail",
        "--culprit",
        repo.culprit,
        "--config",
        str(config),
    )
    assert (code, outcome["status"]) == (1, "failed"), outcome
    assert "conflicts in src/main.rs" in str(outcome["error"])
    assert outcome["pushed_ref"] is None
    assert remote_branches(remote) == before
    assert git(remote, "rev-parse", "refs/heads/main") == head


def test_a_revert_to_a_commit_restores_its_tree_on_the_branch(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """Without --culprit, `revert` undoes everything after COMMIT in one tested commit."""
    repo = create_sample_service(
        tmp_path / "repo", scenario="compile_error", good_commits=2, commits_after_break=1
    )
    assert repo.good is not None
    remote = bare_remote(repo, tmp_path)
    name = f"rv-{uuid.uuid4().hex[:8]}"
    config = rollback_config(
        tmp_path,
        remote,
        name=name,
        builder="local",
        rollback={"strategy": "revert", "push_to": "branch"},
    )
    code, outcome = run_cli("rollback", name, repo.good, "broken build", "--config", str(config))
    assert (code, outcome["status"]) == (0, "succeeded"), outcome
    head = git(remote, "rev-parse", "refs/heads/main")
    assert head == outcome["revert_commit"]
    assert git(remote, "rev-parse", f"{head}^{{tree}}") == git(
        remote, "rev-parse", f"{repo.good}^{{tree}}"
    )


def test_a_revert_that_fails_its_build_is_not_pushed(prefect_api_url: str, tmp_path: Path) -> None:
    """The culprit's revert applies cleanly, but a later commit broke the build another way:
    the tested revert fails, so nothing is pushed."""
    repo = create_sample_service(
        tmp_path / "repo", scenario="test_failure", good_commits=2, commits_after_break=0
    )
    assert repo.culprit is not None and repo.good is not None
    add_commit(repo.path, "Add a build script", {"build.rs": 'fn main() { panic!("boom") }\n'})
    remote = bare_remote(repo, tmp_path)
    before = remote_branches(remote)
    name = f"rv-{uuid.uuid4().hex[:8]}"
    config = rollback_config(
        tmp_path, remote, name=name, builder="local", rollback={"strategy": "revert"}
    )
    code, outcome = run_cli(
        "rollback",
        name,
        repo.good,
        "tests fail",
        "--culprit",
        repo.culprit,
        "--config",
        str(config),
    )
    assert (code, outcome["status"]) == (1, "failed"), outcome
    assert outcome["pushed_ref"] is None
    assert "build_revert" in [s["name"] for s in outcome["steps"]]
    assert remote_branches(remote) == before
