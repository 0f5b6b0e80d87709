"""Worktree slots on real repositories: isolation, reuse like one `git bisect` tree, `keep`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from build_monitor.git.repo import sync_repository
from build_monitor.git.worktrees import build_worktree, checkout_worktree
from build_monitor.sample.service import SampleRepo
from tests.repo_fixtures import SampleRepoFactory


def _mirror(repo: SampleRepo, tmp_path: Path) -> Path:
    return sync_repository(
        repo_url=str(repo.path), branch="main", cache_dir=tmp_path / "c", service="svc"
    )


def _head(path: Path) -> str:
    run = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
    )
    return run.stdout.strip()


def test_concurrent_builds_get_isolated_slots(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("compile_error", good_commits=2)
    mirror = _mirror(repo, tmp_path)
    with (
        build_worktree(mirror, repo.commits[0]) as first,
        build_worktree(mirror, repo.commits[-1]) as second,
    ):
        assert first != second
        (first / "scratch.txt").write_text("only here")
        assert not (second / "scratch.txt").exists()
        assert _head(first) == repo.commits[0]
        assert _head(second) == repo.commits[-1]


def test_a_reused_slot_is_exactly_the_commit(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("compile_error", good_commits=2)
    mirror = _mirror(repo, tmp_path)
    with build_worktree(mirror, repo.commits[0]) as first:
        (first / "untracked.txt").write_text("left behind")
        (first / "Cargo.toml").write_text("edited by a build\n")
        (first / "target").mkdir()
    with build_worktree(mirror, repo.commits[-1]) as second:
        assert second == first
        assert _head(second) == repo.commits[-1]
        assert not (second / "untracked.txt").exists()
        assert not (second / "target").exists()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=second, capture_output=True, text=True
        )
        assert status.stdout == ""


def test_unchanged_files_keep_their_mtimes_so_cargo_can_skip_them(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("test_failure", good_commits=3)
    mirror = _mirror(repo, tmp_path)
    with build_worktree(mirror, repo.commits[0]) as slot:
        manifest_mtime = (slot / "Cargo.toml").stat().st_mtime_ns
    with build_worktree(mirror, repo.commits[0]) as same:
        assert (same / "Cargo.toml").stat().st_mtime_ns == manifest_mtime
    with build_worktree(mirror, repo.commits[1]) as moved:
        assert _head(moved) == repo.commits[1]
        assert (moved / "Cargo.toml").stat().st_mtime_ns == manifest_mtime


def test_slot_holding_the_commit_is_preferred_and_kept_commits_are_spared(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("test_failure", good_commits=4)
    mirror = _mirror(repo, tmp_path)
    culprit, other, another = repo.commits[-1], repo.commits[1], repo.commits[2]
    with build_worktree(mirror, culprit) as culprit_slot, build_worktree(mirror, other):
        pass
    with build_worktree(mirror, another, keep=[culprit]) as probe_slot:
        assert probe_slot != culprit_slot
    with build_worktree(mirror, culprit, keep=[culprit]) as rerun_slot:
        assert rerun_slot == culprit_slot


def test_a_broken_slot_is_made_afresh(sample_repo: SampleRepoFactory, tmp_path: Path) -> None:
    repo = sample_repo("good", good_commits=2)
    mirror = _mirror(repo, tmp_path)
    with build_worktree(mirror, repo.commits[0]) as slot:
        pass
    (slot / ".git").write_text("gitdir: /nowhere\n")
    with build_worktree(mirror, repo.commits[1]) as again:
        assert again == slot
        assert _head(again) == repo.commits[1]


def test_scratch_checkouts_are_removed(sample_repo: SampleRepoFactory, tmp_path: Path) -> None:
    repo = sample_repo("good", good_commits=2)
    mirror = _mirror(repo, tmp_path)
    with build_worktree(mirror, repo.commits[0]) as slot:
        pass
    with checkout_worktree(mirror, repo.commits[1]) as scratch:
        assert scratch != slot
        assert _head(scratch) == repo.commits[1]
    assert not scratch.exists()
    assert _head(slot) == repo.commits[0]
