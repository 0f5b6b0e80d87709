"""What a rollback goes back to: the commit asked for, the branch head (deploy), or the newest
passing build older than the live one (emergency)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from build_monitor.config import Config
from build_monitor.errors import InvalidInputError
from build_monitor.git.repo import is_ancestor, is_on_branch, resolve_commit
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import BuildStatus
from build_monitor.rollback.plan import RollbackRequest
from build_monitor.validation import validate_ref


def resolve_target(
    config: Config,
    request: RollbackRequest,
    mirror: Path,
    head: str,
    *,
    live_commit: Callable[[], str | None],
) -> str:
    service = config.service(request.service)
    if request.target is not None:
        validate_ref(request.target)
        sha = resolve_commit(mirror, request.target)
        if not is_on_branch(mirror, sha, service.branch):
            raise InvalidInputError(
                f"{request.target} ({sha[:12]}) is not on {service.name}'s branch {service.branch}"
            )
        return sha
    if request.action == "deploy":
        return head
    live = live_commit()
    with session_scope(config.database_url) as session:
        builds = crud.list_builds(session=session, service=service.name, limit=200)
        passing = [b.commit for b in builds if b.status == BuildStatus.passed]
    for commit in dict.fromkeys(passing):
        if commit == live:
            continue
        if not is_on_branch(mirror, commit, service.branch):
            continue
        if live and not is_ancestor(mirror, commit, live):
            continue
        return commit
    raise InvalidInputError(
        f"{service.name} has no passing build older than the live one to go back to"
    )
