"""Git operations on a service repository (GitPython; nothing reaches a shell).

A bare mirror per service lives in the cache dir; `worktrees` checks commits out of it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import git

from build_monitor.errors import GitError, InfrastructureError
from build_monitor.validation import validate_branch, validate_ref

_FIELD_SEP = "\x1f"
_RECORD_SEP = "\x1e"


@dataclass(frozen=True)
class GitAuth:
    """Per-command credentials: config options and environment, never written to git config."""

    # `key=value` settings such as `http.extraHeader=Authorization: Basic ...`.
    config_options: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """`env` plus the config options as GIT_CONFIG_COUNT/KEY_n/VALUE_n: on git's command
        line (`-c`) any local user could read a token in `ps`; the environment is private."""
        variables = {"GIT_TERMINAL_PROMPT": "0", **self.env}
        if not self.config_options:
            return variables
        already = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
        for index, option in enumerate(self.config_options, start=already):
            key, _, value = option.partition("=")
            variables[f"GIT_CONFIG_KEY_{index}"] = key
            variables[f"GIT_CONFIG_VALUE_{index}"] = value
        variables["GIT_CONFIG_COUNT"] = str(already + len(self.config_options))
        return variables


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    email: str
    subject: str
    committed_at: datetime
    parents: tuple[str, ...]

    @property
    def short(self) -> str:
        return self.sha[:10]


def mirror_path(cache_dir: Path, service: str) -> Path:
    return cache_dir / "repos" / f"{service}.git"


@contextmanager
def repo_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def git_runner(git_dir: str | os.PathLike[str], auth: GitAuth | None = None) -> git.Git:
    """A git command runner in `git_dir` that authenticates with `auth` and never prompts."""
    runner = git.Git(str(git_dir))
    runner.update_environment(**(auth or GitAuth()).environment())
    return runner


def describe_git_error(exc: git.GitCommandError) -> str:
    """git's own reason: its first `fatal:`/`error:` line (the lines after it are advice)."""
    stderr = (exc.stderr or "").strip().replace("stderr: ", "").strip("'\n ")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line.removeprefix(prefix)
    return lines[0] if lines else str(exc)


def sync_repository(
    *, repo_url: str, branch: str, cache_dir: Path, service: str, auth: GitAuth | None = None
) -> Path:
    """Clone the repository as a bare mirror, or fetch it; returns the mirror path."""
    validate_branch(branch)
    if repo_url.startswith("-"):
        raise GitError(f"invalid repository URL {repo_url!r}")
    path = mirror_path(cache_dir, service)
    with repo_lock(path):
        try:
            if not (path / "HEAD").exists():
                if path.exists():
                    shutil.rmtree(path)
                tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
                git.Repo.init(tmp, bare=True)
                tmp.rename(path)
            repo = git.Repo(path)
            git_runner(repo.git_dir, auth).fetch(
                "--prune", "--force", "--", repo_url, "+refs/heads/*:refs/heads/*"
            )
        except git.GitCommandError as exc:
            raise GitError(f"cannot fetch {repo_url}: {describe_git_error(exc)}") from None
        except OSError as exc:
            raise InfrastructureError(f"cannot write the git cache at {path}: {exc}") from None
        if not _ref_exists(repo, f"refs/heads/{branch}"):
            raise GitError(f"branch {branch!r} does not exist in {repo_url}")
    return path


def _ref_exists(repo: git.Repo, ref: str) -> bool:
    try:
        repo.git.rev_parse("--verify", "--quiet", ref)
    except git.GitCommandError:
        return False
    return True


def open_repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise GitError(f"{path} is not a git repository") from None


def resolve_commit(repo_path: Path, ref: str) -> str:
    """The full sha of `ref` (branch, tag, sha or rev expression)."""
    validate_ref(ref)
    repo = open_repo(repo_path)
    try:
        return str(repo.git.rev_parse("--verify", "--end-of-options", f"{ref}^{{commit}}"))
    except git.GitCommandError:
        raise GitError(f"unknown commit {ref!r}") from None


def _parse_log(output: str) -> list[CommitInfo]:
    commits = []
    for record in output.split(_RECORD_SEP):
        record = record.strip("\n")
        if not record:
            continue
        sha, author, email, subject, timestamp, parents = record.split(_FIELD_SEP)
        commits.append(
            CommitInfo(
                sha=sha,
                author=author,
                email=email,
                subject=subject,
                committed_at=datetime.fromtimestamp(int(timestamp), UTC),
                parents=tuple(parents.split()),
            )
        )
    return commits


_LOG_FORMAT = _FIELD_SEP.join(["%H", "%an", "%ae", "%s", "%ct", "%P"]) + _RECORD_SEP


def commit_info(repo_path: Path, ref: str) -> CommitInfo:
    sha = resolve_commit(repo_path, ref)
    output = open_repo(repo_path).git.log("-1", f"--format={_LOG_FORMAT}", sha, "--")
    return _parse_log(output)[0]


def list_commits(
    repo_path: Path, *, since: str | None, until: str, first_parent: bool = True, limit: int = 0
) -> list[CommitInfo]:
    """Commits after `since` (exclusive) up to `until` (inclusive), oldest first."""
    until_sha = resolve_commit(repo_path, until)
    args = [f"--format={_LOG_FORMAT}", "--reverse"]
    if first_parent:
        args.append("--first-parent")
    if limit:
        args.insert(0, f"--max-count={limit}")
    if since is not None:
        since_sha = resolve_commit(repo_path, since)
        if not is_ancestor(repo_path, since_sha, until_sha):
            raise GitError(f"{since[:12]} is not an ancestor of {until[:12]}")
        args.append(f"{since_sha}..{until_sha}")
    else:
        args.append(until_sha)
    output = open_repo(repo_path).git.log(*args, "--")
    commits = _parse_log(output)
    if limit and len(commits) > limit:
        commits = commits[-limit:]
    return commits


def is_ancestor(repo_path: Path, ancestor: str, descendant: str) -> bool:
    repo = open_repo(repo_path)
    try:
        repo.git.merge_base("--is-ancestor", ancestor, descendant)
    except git.GitCommandError as exc:
        if exc.status == 1:
            return False
        raise GitError(f"cannot compare {ancestor[:12]} and {descendant[:12]}") from None
    return True


def is_on_branch(repo_path: Path, commit: str, branch: str) -> bool:
    return is_ancestor(repo_path, resolve_commit(repo_path, commit), f"refs/heads/{branch}")


def diffstat(repo_path: Path, sha: str) -> str:
    """`git show --stat` of one commit, without the message."""
    return str(
        open_repo(repo_path).git.show("--stat", "--format=", "--no-color", sha, "--")
    ).strip()


def branch_head(repo_path: Path, branch: str, pushed: str | None = None) -> CommitInfo:
    """The branch's head. A `pushed` commit (of a push event) must be on the branch; the head
    holds it, so pushes that coalesced into one waiting run are all built up to the newest."""
    head = commit_info(repo_path, f"refs/heads/{branch}")
    if pushed is not None and not is_on_branch(repo_path, pushed, branch):
        raise GitError(f"{pushed[:12]} is not on {branch}")
    return head


def touched_files(
    repo_path: Path, *, since: str, until: str, first_parent: bool = True
) -> dict[str, tuple[str, ...]]:
    """The paths each commit after `since` up to `until` changed (merges: against their first
    parent), from one `git log --name-only` for the whole range: sha -> paths."""
    since_sha, until_sha = resolve_commit(repo_path, since), resolve_commit(repo_path, until)
    args = ["--name-only", f"--format={_RECORD_SEP}%H", "--no-renames"]
    if first_parent:
        args += ["--first-parent", "--diff-merges=first-parent"]
    try:
        output = open_repo(repo_path).git.log(*args, f"{since_sha}..{until_sha}", "--")
    except git.GitCommandError as exc:
        raise GitError(f"cannot list the files changed in {since[:12]}..{until[:12]}") from exc
    touched: dict[str, tuple[str, ...]] = {}
    for record in output.split(_RECORD_SEP):
        lines = [line.strip() for line in record.strip("\n").splitlines() if line.strip()]
        if lines:
            touched[lines[0]] = tuple(lines[1:])
    return touched
