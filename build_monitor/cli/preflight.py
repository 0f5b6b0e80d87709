"""What a command checks before it starts a flow, so a bad repository, ref or range is one line
on stderr rather than a failed flow run with Prefect's crash report."""

from __future__ import annotations

from pathlib import Path

from build_monitor.bisection.plan import require_ancestor, require_last_good
from build_monitor.config import Config, ServiceConfig
from build_monitor.git.repo import is_ancestor, resolve_commit, sync_repository
from build_monitor.history import bisections
from build_monitor.history.db import session_scope


def fetch_service_repository(config: Config, service: ServiceConfig) -> Path:
    """Fetch the service's branch into its mirror (the flow's own fetch then has nothing new)."""
    from tasks.blocks import load_git_credentials

    credentials = load_git_credentials(service)
    return sync_repository(
        repo_url=service.repo,
        branch=service.branch,
        cache_dir=config.cache_dir,
        service=service.name,
        auth=credentials.get_client() if credentials else None,
    )


def check_refs(config: Config, service: ServiceConfig, *refs: str | None) -> Path:
    """The repository and branch exist and every given ref names a commit; the mirror path."""
    mirror = fetch_service_repository(config, service)
    for ref in refs:
        if ref is not None:
            resolve_commit(mirror, ref)
    return mirror


def check_bisect_range(
    config: Config, service: ServiceConfig, *, good: str | None, bad: str | None
) -> None:
    """As `check_refs`, and the range is one the bisect flow accepts: GOOD (default: the last
    passing build before BAD) is a proper ancestor of BAD (default: the branch head)."""
    mirror = check_refs(config, service, good, bad)
    bad_sha = resolve_commit(mirror, bad or f"refs/heads/{service.branch}")
    if good is None:
        with session_scope(config.database_url) as session:
            last_good = bisections.last_passing_ancestor_build(
                session=session,
                service=service.name,
                config_key=service.build_config_key,
                is_ancestor=lambda c: c != bad_sha and is_ancestor(mirror, c, bad_sha),
            )
        require_last_good(
            last_good.commit if last_good else None, service=service.name, bad=bad_sha
        )
        return
    good_sha = resolve_commit(mirror, good)
    good_is_ancestor = good_sha != bad_sha and is_ancestor(mirror, good_sha, bad_sha)
    require_ancestor(good_sha, bad_sha, good_is_ancestor=good_is_ancestor)
