"""Undoing a rollback's steps from their journal (the transaction's hooks, and crash recovery).

Each step journals what undoing it needs *before* it changes anything, so a process killed in
the middle of a step is undone too. Every undo is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from build_monitor.config import ServiceConfig
from build_monitor.git.repo import GitAuth
from build_monitor.rollback import git_revert, live_container

STEP_MOVE_LIVE_TAG = "move_live_tag"
STEP_HAND_OVER = "hand_over"
STEP_CREATE_REVERT = "create_revert"
STEP_PUSH_REVERT = "push_revert"
UNDOABLE_STEPS = frozenset(
    {STEP_MOVE_LIVE_TAG, STEP_HAND_OVER, STEP_CREATE_REVERT, STEP_PUSH_REVERT}
)


def undo_step(
    name: str,
    undo: dict[str, Any],
    *,
    service: ServiceConfig,
    docker_client: Callable[[], docker.DockerClient],
    git_auth: Callable[[], GitAuth | None],
) -> str:
    """Undo one journaled step; returns what was done."""
    if name == STEP_MOVE_LIVE_TAG:
        with docker_client() as client:
            live_container.restore_live_tag(client, service.name, undo.get("previous_image_id"))
        previous = undo.get("previous_image_id")
        return f"live tag moved back to {previous[:19] if previous else 'nothing'}"
    if name == STEP_HAND_OVER:
        plan = live_container.Handover.from_undo(undo)
        with docker_client() as client:
            live_container.restore_handover(client, service, plan)
        return "previous live container restored" if plan.previous_id else "new container removed"
    if name == STEP_CREATE_REVERT:
        git_revert.delete_local_ref(Path(undo["mirror"]), undo["ref"])
        return f"deleted {undo['ref']}"
    if name == STEP_PUSH_REVERT:
        if not undo.get("deletable"):
            return f"left {undo['branch']} as pushed (a service branch is never rewritten)"
        mirror, auth = Path(undo["mirror"]), git_auth()
        pushed = git_revert.remote_branch_sha(
            mirror, repo_url=undo["repo_url"], branch=undo["branch"], auth=auth
        )
        if pushed != undo["sha"]:
            return f"{undo['branch']} does not hold {undo['sha'][:12]}: nothing to delete"
        git_revert.delete_remote_branch(
            mirror,
            repo_url=undo["repo_url"],
            branch=undo["branch"],
            expected_sha=undo["sha"],
            auth=auth,
        )
        return f"deleted the pushed branch {undo['branch']}"
    return "nothing to undo"
