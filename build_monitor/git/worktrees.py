"""Worktrees: every build checks its commit out into a slot (`<root>/<repo>/slot-N`) that no
other build holds at the same time.

Build slots persist between builds, like the one working tree of `git bisect run`: git rewrites
only the files that differ, so cargo rebuilds only what changed, and rerunning the commit a slot
already holds rebuilds nothing (a failing test or health check reruns against the same binary;
a compile error, which cargo never caches, compiles again). A slot that already holds the commit
is chosen first, and a slot holding a commit in `keep` (one a bisection expects to rerun) last.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git

from build_monitor.errors import GitError, InfrastructureError
from build_monitor.git.repo import describe_git_error, open_repo, repo_lock
from build_monitor.validation import FULL_SHA_PATTERN

_MAX_SLOTS = 64


@dataclass(frozen=True)
class _Slot:
    index: int
    commit: str | None
    last_used: float


def _marker(slot: Path) -> Path:
    """Names the commit a build slot holds; its mtime is when the slot was last used."""
    return slot.with_name(f"{slot.name}.commit")


def _known_build_slots(parent: Path) -> list[_Slot]:
    slots = []
    for lock in parent.glob("slot-*.lock"):
        suffix = lock.stem.removeprefix("slot-")
        if not suffix.isdigit() or int(suffix) >= _MAX_SLOTS:
            continue
        path = parent / lock.stem
        commit, last_used = None, 0.0
        with contextlib.suppress(OSError):
            commit = _marker(path).read_text().strip() or None
            last_used = _marker(path).stat().st_mtime
        if not (path / ".git").exists():
            commit = None
        slots.append(_Slot(int(suffix), commit, last_used))
    return slots


def build_slot_order(parent: Path, sha: str, keep: Collection[str]) -> list[int]:
    """Slot indices to try, best first: the slot holding `sha`; then the most recently used
    (its commit is likely the nearest, so the least to rebuild); then a new slot; slots that
    hold a commit in `keep` last."""
    known = _known_build_slots(parent)

    def rank(slot: _Slot) -> tuple[int, float]:
        if slot.commit == sha:
            return (0, 0.0)
        return (3 if slot.commit in keep else 1, -slot.last_used)

    ranked = sorted(known, key=rank)
    known_indices = {slot.index for slot in known}
    new = [index for index in range(_MAX_SLOTS) if index not in known_indices]
    return (
        [s.index for s in ranked if rank(s)[0] < 2]
        + new
        + [s.index for s in ranked if rank(s)[0] >= 2]
    )


@contextmanager
def _locked(parent: Path, prefix: str, order: list[int]) -> Iterator[Path]:
    parent.mkdir(parents=True, exist_ok=True)
    for index in order:
        handle = open(parent / f"{prefix}-{index}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield parent / f"{prefix}-{index}"
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise InfrastructureError(f"more than {_MAX_SLOTS} concurrent checkouts in {parent}")


def _slots_parent(repo_path: Path, root: Path | None) -> Path:
    return (root or repo_path.parent.parent / "worktrees") / repo_path.stem


def _require_full_sha(sha: str) -> None:
    if not FULL_SHA_PATTERN.fullmatch(sha):
        raise GitError(f"expected a full commit sha, got {sha!r}")


def _add_worktree(repo_path: Path, path: Path, sha: str) -> None:
    repo = open_repo(repo_path)
    shutil.rmtree(path, ignore_errors=True)
    try:
        with repo_lock(repo_path):
            repo.git.worktree("prune")
            repo.git.worktree("add", "--detach", "--force", str(path), sha)
    except git.GitCommandError as exc:
        shutil.rmtree(path, ignore_errors=True)
        raise GitError(f"cannot check out {sha[:12]}: {describe_git_error(exc)}") from None


def _switch_worktree(path: Path, sha: str) -> bool:
    """Check `sha` out in the existing worktree at `path`, dropping every local change and
    untracked file; False when the worktree is not usable (then it is made afresh)."""
    if not (path / ".git").is_file():
        return False
    runner = git.Git(str(path))
    try:
        runner.checkout("--force", "--detach", sha, "--")
        runner.clean("-ffdxq")
        return str(runner.rev_parse("HEAD")).strip() == sha
    except git.GitCommandError:
        return False


@contextmanager
def build_worktree(
    repo_path: Path, sha: str, *, root: Path | None = None, keep: Collection[str] = ()
) -> Iterator[Path]:
    """A worktree of `sha` for a build, in a persistent slot no other build holds meanwhile.
    The path is stable (slot-0, slot-1, ...) so cargo's fingerprints, which include the source
    path, stay valid."""
    _require_full_sha(sha)
    parent = _slots_parent(repo_path, root)
    with _locked(parent, "slot", build_slot_order(parent, sha, keep)) as path:
        _marker(path).unlink(missing_ok=True)
        if not _switch_worktree(path, sha):
            _add_worktree(repo_path, path, sha)
        _marker(path).write_text(sha)
        yield path


@contextmanager
def checkout_worktree(repo_path: Path, sha: str, *, root: Path | None = None) -> Iterator[Path]:
    """A fresh detached worktree of `sha` that nothing else shares, removed afterwards (for
    work that changes the tree, such as a revert)."""
    _require_full_sha(sha)
    parent = _slots_parent(repo_path, root)
    with _locked(parent, "scratch", list(range(_MAX_SLOTS))) as path:
        _add_worktree(repo_path, path, sha)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            with repo_lock(repo_path):
                open_repo(repo_path).git.worktree("prune")
