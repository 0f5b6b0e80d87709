"""Git operations on real repositories: mirror, ranges, hostile refs."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from blocks.git import GitCredentials
from build_monitor.errors import GitError, InvalidInputError
from build_monitor.git.repo import (
    commit_info,
    is_on_branch,
    list_commits,
    resolve_commit,
    sync_repository,
)
from build_monitor.sample.service import add_commit
from build_monitor.validation import validate_ref
from tests.git.http_git_server import git_http_server
from tests.repo_fixtures import SampleRepoFactory


def test_mirror_lists_first_parent_range_oldest_first(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("compile_error", good_commits=4)
    mirror = sync_repository(
        repo_url=str(repo.path), branch="main", cache_dir=tmp_path / "c", service="svc"
    )
    assert resolve_commit(mirror, "main") == repo.commits[-1]
    commits = list_commits(mirror, since=repo.commits[1], until="main")
    assert [c.sha for c in commits] == repo.commits[2:]
    info = commit_info(mirror, repo.culprit or "")
    assert info.subject and info.author
    assert commits[0].parents == (repo.commits[1],)


def test_fetch_sees_new_commits(sample_repo: SampleRepoFactory, tmp_path: Path) -> None:
    repo = sample_repo("good", good_commits=2)
    cache = tmp_path / "c"
    mirror = sync_repository(repo_url=str(repo.path), branch="main", cache_dir=cache, service="s")
    new = add_commit(repo.path, "Another change", {"NOTES.md": "hello\n"})
    assert resolve_commit(mirror, "main") == repo.commits[-1]
    sync_repository(repo_url=str(repo.path), branch="main", cache_dir=cache, service="s")
    assert resolve_commit(mirror, "main") == new
    assert is_on_branch(mirror, repo.commits[0], "main")


def test_unknown_branch_and_repo_are_clear_errors(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("good", good_commits=1)
    with pytest.raises(GitError, match="branch 'release' does not exist"):
        sync_repository(repo_url=str(repo.path), branch="release", cache_dir=tmp_path, service="a")
    nowhere = tmp_path / "nowhere"
    with pytest.raises(GitError) as missing:
        sync_repository(repo_url=str(nowhere), branch="main", cache_dir=tmp_path, service="b")
    # git's reason, not the last line of its advice ("... and the repository exists.").
    assert str(missing.value) == (
        f"cannot fetch {nowhere}: '{nowhere}' does not appear to be a git repository"
    )


def test_a_token_authenticates_the_fetch_and_never_shows_in_the_process_table(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    token = "bm-secret-token-5d1f0c"
    repo = sample_repo("good", good_commits=2)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(repo.path), str(served / "svc.git")],
        check=True,
    )
    credentials = GitCredentials(username="ci", token=SecretStr(token))
    header = base64.b64encode(f"ci:{token}".encode()).decode()
    with git_http_server(served, username="ci", token=token) as server:
        url = f"{server.url}/svc.git"
        with pytest.raises(GitError, match="cannot fetch"):
            sync_repository(repo_url=url, branch="main", cache_dir=tmp_path / "a", service="s")
        assert server.refused >= 1, "the server must demand the credential"

        mirror = sync_repository(
            repo_url=url,
            branch="main",
            cache_dir=tmp_path / "b",
            service="s",
            auth=credentials.get_client(),
        )
    assert resolve_commit(mirror, "main") == repo.commits[-1]
    fetches = [line for line in server.command_lines if "fetch" in line]
    assert fetches, server.command_lines
    leaked = [line for line in server.command_lines if token in line or header in line]
    assert leaked == []


def test_unknown_commit(sample_repo: SampleRepoFactory, tmp_path: Path) -> None:
    repo = sample_repo("good", good_commits=1)
    mirror = sync_repository(
        repo_url=str(repo.path), branch="main", cache_dir=tmp_path, service="a"
    )
    with pytest.raises(GitError, match="unknown commit 'deadbeef'"):
        resolve_commit(mirror, "deadbeef")


@pytest.mark.parametrize(
    "ref", ["--upload-pack=touch /tmp/x", "-c", "a b", "main;rm -rf /", "$(id)", "a..b", ""]
)
def test_hostile_refs_are_rejected(ref: str) -> None:
    with pytest.raises(InvalidInputError):
        validate_ref(ref)


@given(st.text(min_size=1, max_size=40))
def test_a_valid_ref_never_looks_like_an_option_or_shell(ref: str) -> None:
    try:
        validate_ref(ref)
    except InvalidInputError:
        return
    assert not ref.startswith("-")
    assert not any(c in ref for c in " ;|&$`'\"\\\n<>*?")
