"""Undoing a rollback's steps from their journal (the transaction's hooks, and crash recovery).

Each step journals what undoing it needs *before* it changes anything, so a process killed in
the middle of a step is undone too. Every undo is idempotent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from build_monitor.config import ServiceConfig
from build_monitor.git.repo import GitAuth
from build_monitor.history.models import RollbackStatus, RollbackStep
from build_monitor.rollback import git_revert, live_container
from build_monitor.rollback.journal import RollbackJournal, orphaned_journals

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
        if not undo:
            return "nothing had changed yet"
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


Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]
_logger = logging.getLogger("build_monitor.rollback")


@dataclass(frozen=True)
class RecoveredRollback:
    """A rollback whose process died, undone by recovery (a `status --json` item)."""

    service: str
    rollback_id: int


@dataclass(frozen=True)
class Undoers:
    """How to reach what a journaled step changed (clients are made only when needed)."""

    docker_client: Callable[[], docker.DockerClient]
    git_auth: Callable[[], GitAuth | None]


def undo_journaled_step(
    journal: RollbackJournal,
    step: RollbackStep,
    service: ServiceConfig,
    undoers: Undoers,
    log: Logger = _logger,
) -> str:
    """Undo one journaled step and mark it `undone` (or `undo_failed`, loudly)."""
    assert step.id is not None
    undo = json.loads(step.undo or "{}")
    try:
        detail = undo_step(
            step.name,
            undo,
            service=service,
            docker_client=undoers.docker_client,
            git_auth=undoers.git_auth,
        )
    except Exception as exc:
        detail = f"undo failed: {type(exc).__name__}: {exc}"
        log.error("%s: undoing %s failed: %s", service.name, step.name, detail)
        journal.end_step(step.id, "undo_failed", detail)
        raise
    log.warning("%s: undid %s: %s", service.name, step.name, detail)
    journal.end_step(step.id, "undone", detail)
    return detail


def recover_interrupted_rollbacks(
    database_url: str, service: ServiceConfig, undoers: Undoers, log: Logger = _logger
) -> list[int]:
    """Undo the steps of the rollbacks whose process died (on this host), newest step first,
    and mark them `interrupted`: the live container they replaced serves again. Safe to run
    from several processes at once (each rollback is claimed once). Returns their ids."""
    recovered: list[int] = []
    for journal in orphaned_journals(database_url, service.name):
        if not journal.claim(RollbackStatus.running, RollbackStatus.interrupted):
            continue
        problems: list[str] = []
        for step in reversed(journal.steps()):
            if step.name not in UNDOABLE_STEPS or step.status not in ("running", "done"):
                continue
            try:
                undo_journaled_step(journal, step, service, undoers, log)
            except Exception as exc:
                problems.append(f"{step.name}: {exc}")
        journal.finish(
            RollbackStatus.interrupted,
            "the process running this rollback died; its steps were undone"
            + (f" except: {'; '.join(problems)}" if problems else ""),
        )
        log.warning("%s: recovered interrupted rollback #%s", service.name, journal.rollback_id)
        recovered.append(journal.rollback_id)
    return recovered
