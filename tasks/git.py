"""Git tasks: fetch a service repository, resolve and list its commits."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from blocks.git import GitCredentials
from build_monitor.config import ServiceConfig
from build_monitor.git.repo import CommitInfo, commit_info, sync_repository
from tasks.retry import is_infrastructure_failure


@task(
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=is_infrastructure_failure,
    timeout_seconds=600,
    task_run_name="fetch {service.name}",
)
def fetch_repository(
    service: ServiceConfig, cache_dir: Path, credentials: GitCredentials | None = None
) -> Path:
    return sync_repository(
        repo_url=service.repo,
        branch=service.branch,
        cache_dir=cache_dir,
        service=service.name,
        auth=credentials.get_client() if credentials else None,
    )


@task(timeout_seconds=60)
def resolve_commit_info(mirror: Path, ref: str) -> CommitInfo:
    return commit_info(mirror, ref)
