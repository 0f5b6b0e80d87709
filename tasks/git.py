"""Git tasks: fetch a service repository into its mirror, and read commits from the mirror."""

from __future__ import annotations

from pathlib import Path

from blocks.git import GitCredentials
from build_monitor.config import ServiceConfig
from build_monitor.git import cargo_manifests, repo
from build_monitor.git.repo import CommitInfo
from tasks.retry import FETCH_TASK, LOCAL_GIT_TASK


@FETCH_TASK(task_run_name="fetch {service.name}")
def fetch_repository(
    service: ServiceConfig, cache_dir: Path, credentials: GitCredentials | None = None
) -> Path:
    return repo.sync_repository(
        repo_url=service.repo,
        branch=service.branch,
        cache_dir=cache_dir,
        service=service.name,
        auth=credentials.get_client() if credentials else None,
    )


@LOCAL_GIT_TASK()
def resolve_commit_info(mirror: Path, ref: str) -> CommitInfo:
    return repo.commit_info(mirror, ref)


@LOCAL_GIT_TASK()
def list_commit_range(
    mirror: Path, since: str | None, until: str, first_parent: bool = True, limit: int = 0
) -> list[CommitInfo]:
    """Commits after `since` (exclusive) up to `until` (inclusive), oldest first."""
    return repo.list_commits(
        mirror, since=since, until=until, first_parent=first_parent, limit=limit
    )


@LOCAL_GIT_TASK()
def check_ancestry(mirror: Path, ancestor: str, descendant: str) -> bool:
    return repo.is_ancestor(mirror, ancestor, descendant)


@LOCAL_GIT_TASK(task_run_name="diffstat {sha:.10}")
def read_diffstat(mirror: Path, sha: str) -> str:
    return repo.diffstat(mirror, sha)


@LOCAL_GIT_TASK()
def resolve_branch_head(mirror: Path, branch: str, pushed: str | None = None) -> CommitInfo:
    """The branch's head, or the pushed commit of a push event (which must be on the branch)."""
    return repo.branch_head(mirror, branch, pushed)


@LOCAL_GIT_TASK()
def list_touched_files(
    mirror: Path, since: str, until: str, first_parent: bool = True
) -> dict[str, tuple[str, ...]]:
    """The paths each commit of `since..until` changed (one git call for the whole range)."""
    return repo.touched_files(mirror, since=since, until=until, first_parent=first_parent)


@LOCAL_GIT_TASK(task_run_name="crate directories {commit:.10}")
def read_crate_directories(mirror: Path, commit: str) -> dict[str, str]:
    """Each crate name at `commit` mapped to its package's directory (`""`: the root)."""
    return cargo_manifests.crate_directories(mirror, commit)
