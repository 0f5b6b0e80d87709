"""Revert commits made in a worktree of the service's mirror, and pushed with its credentials.

GitPython with argument lists; nothing reaches a shell. Every revert commit is kept under
refs/build-monitor/reverts/ in the mirror so the builders can check it out.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import git

from build_monitor.errors import GitError
from build_monitor.git.repo import GitAuth, commit_info, git_runner, open_repo
from build_monitor.git.worktrees import checkout_worktree
from build_monitor.rollback.plan import mainline_parent, revert_ref, reverts_marker

IDENTITY_NAME = "build-monitor"
IDENTITY_EMAIL = "build-monitor@localhost"
_FIRST_PARENT_HISTORY = 5000


@dataclass(frozen=True)
class RevertAttempt:
    """A revert commit (sha), or why there is none: a conflict or nothing left to revert."""

    sha: str | None
    conflict_files: tuple[str, ...] = ()
    already_reverted: bool = False
    detail: str = ""


def identity_env() -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": IDENTITY_NAME,
        "GIT_AUTHOR_EMAIL": IDENTITY_EMAIL,
        "GIT_COMMITTER_NAME": IDENTITY_NAME,
        "GIT_COMMITTER_EMAIL": IDENTITY_EMAIL,
        "GIT_TERMINAL_PROMPT": "0",
    }


def _describe(exc: git.GitCommandError) -> str:
    stderr = (exc.stderr or "").strip().replace("stderr: ", "").strip("'\n ")
    return stderr.splitlines()[-1] if stderr else str(exc)


def find_revert(mirror: Path, commit: str, since: str, ref: str) -> str | None:
    """A commit in since..ref whose message says it reverts `commit`."""
    repo = open_repo(mirror)
    try:
        repo.git.rev_parse("--verify", "--quiet", ref)
    except git.GitCommandError:
        return None
    output = repo.git.log(
        "--format=%H",
        "--fixed-strings",
        f"--grep={reverts_marker(commit)}",
        f"{since}..{ref}",
        "--",
    )
    shas = output.split()
    return shas[0] if shas else None


def create_revert(
    mirror: Path,
    *,
    culprit: str,
    head: str,
    branch: str,
    message: str,
    worktree_root: Path,
) -> RevertAttempt:
    """`git revert` of `culprit` on top of `head` (the right mainline for a merge)."""
    repo = open_repo(mirror)
    parents = commit_info(mirror, culprit).parents
    mainline = None
    if len(parents) > 1:
        chain = repo.git.rev_list(
            "--first-parent", f"--max-count={_FIRST_PARENT_HISTORY}", f"refs/heads/{branch}", "--"
        ).split()
        mainline = mainline_parent(parents, set(chain))
    with checkout_worktree(mirror, head, root=worktree_root) as worktree:
        runner = git.Git(str(worktree))
        runner.update_environment(**identity_env())
        args = ["--no-commit"] + (["-m", str(mainline)] if mainline else []) + [culprit]
        try:
            runner.revert(*args)
        except git.GitCommandError as exc:
            conflicts = tuple(runner.diff("--name-only", "--diff-filter=U").split())
            with contextlib.suppress(git.GitCommandError):
                runner.revert("--abort")
            if conflicts:
                return RevertAttempt(
                    sha=None,
                    conflict_files=conflicts,
                    detail=f"the revert conflicts in {', '.join(conflicts)}",
                )
            raise GitError(f"git revert {culprit[:12]} failed: {_describe(exc)}") from None
        if not runner.diff("--cached", "--name-only").strip():
            return RevertAttempt(
                sha=None,
                already_reverted=True,
                detail=f"the changes of {culprit[:12]} are no longer on {branch}",
            )
        runner.commit("--quiet", "--no-verify", "-m", message)
        sha = str(runner.rev_parse("HEAD")).strip()
    repo.git.update_ref(revert_ref(culprit), sha)
    return RevertAttempt(sha=sha, detail=f"revert commit {sha[:12]} on top of {head[:12]}")


def create_restore(mirror: Path, *, target: str, head: str, message: str) -> RevertAttempt:
    """A commit on top of `head` whose tree is `target`'s: reverts everything after `target`."""
    repo = open_repo(mirror)
    target_tree = str(repo.git.rev_parse(f"{target}^{{tree}}"))
    if target_tree == str(repo.git.rev_parse(f"{head}^{{tree}}")):
        return RevertAttempt(
            sha=None, already_reverted=True, detail=f"{head[:12]} already has {target[:12]}'s tree"
        )
    runner = git.Git(str(mirror))
    runner.update_environment(**identity_env())
    sha = str(runner.commit_tree(target_tree, "-p", head, "-m", message)).strip()
    repo.git.update_ref(revert_ref(f"restore-{target}"), sha)
    return RevertAttempt(sha=sha, detail=f"commit {sha[:12]} restores {target[:12]} on {head[:12]}")


def _runner(mirror: Path, auth: GitAuth | None) -> git.Git:
    # The token travels in git's environment, never on its command line (readable in `ps`).
    return git_runner(mirror, auth)


def push_commit(
    mirror: Path, *, repo_url: str, sha: str, branch: str, auth: GitAuth | None
) -> None:
    """Push `sha` to `branch` (fast-forward only: a branch that moved on rejects it)."""
    try:
        _runner(mirror, auth).push("--porcelain", "--", repo_url, f"{sha}:refs/heads/{branch}")
    except git.GitCommandError as exc:
        raise GitError(f"push of {sha[:12]} to {branch} was rejected: {_describe(exc)}") from None


def delete_remote_branch(
    mirror: Path, *, repo_url: str, branch: str, expected_sha: str, auth: GitAuth | None
) -> None:
    """Delete `branch` on the remote only if it still points at `expected_sha`."""
    lease = f"--force-with-lease=refs/heads/{branch}:{expected_sha}"
    try:
        _runner(mirror, auth).push("--porcelain", lease, "--", repo_url, f":refs/heads/{branch}")
    except git.GitCommandError as exc:
        raise GitError(f"cannot delete {branch}: {_describe(exc)}") from None


def remote_branch_sha(
    mirror: Path, *, repo_url: str, branch: str, auth: GitAuth | None
) -> str | None:
    try:
        output = str(_runner(mirror, auth).ls_remote("--", repo_url, f"refs/heads/{branch}"))
    except git.GitCommandError as exc:
        raise GitError(f"cannot read {branch} from {repo_url}: {_describe(exc)}") from None
    for line in output.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None


def delete_local_ref(mirror: Path, ref: str) -> None:
    with contextlib.suppress(git.GitCommandError):
        open_repo(mirror).git.update_ref("-d", ref)
