"""The steps of a rollback that change something, each journaled with its undo first."""

from __future__ import annotations

from pathlib import Path

import docker

from build_monitor.config import ServiceConfig
from build_monitor.git.repo import GitAuth
from build_monitor.rollback import git_revert, live_container
from build_monitor.rollback.git_revert import RevertAttempt
from build_monitor.rollback.journal import JournaledStep, RollbackJournal
from build_monitor.rollback.live_container import Handover
from build_monitor.rollback.plan import revert_ref
from build_monitor.rollback.recovery import (
    STEP_CREATE_REVERT,
    STEP_HAND_OVER,
    STEP_MOVE_LIVE_TAG,
    STEP_PUSH_REVERT,
)


def move_live_tag(
    client: docker.DockerClient, journal: RollbackJournal, service: str, image: str
) -> JournaledStep:
    previous = live_container.image_id(client, live_container.live_tag(service))
    with journal.step(STEP_MOVE_LIVE_TAG, {"previous_image_id": previous}) as step:
        live_container.move_live_tag(client, service, image)
        step.detail = f"{live_container.live_tag(service)} -> {image}"
    return step


def hand_over(
    client: docker.DockerClient,
    journal: RollbackJournal,
    service: ServiceConfig,
    *,
    image: str,
    commit: str,
) -> tuple[JournaledStep, Handover]:
    """The handover, journaled before the old container is touched."""
    steps: list[JournaledStep] = []
    with journal.step(STEP_HAND_OVER) as step:
        steps.append(step)

        def journal_plan(plan: Handover) -> None:
            step.undo = plan.to_undo()
            journal.end_step(step.id, "running", undo=step.undo)

        handover = live_container.hand_over(
            client,
            service,
            image=image,
            commit=commit,
            suffix=str(journal.rollback_id),
            on_plan=journal_plan,
        )
        step.undo = handover.to_undo()
        previous = (
            f"stopped {handover.previous_name}" if handover.previous_id else "no previous one"
        )
        step.detail = f"started {image} as the live container ({previous})"
    return step, handover


def create_revert(
    journal: RollbackJournal,
    mirror: Path,
    service: ServiceConfig,
    *,
    culprit: str,
    head: str,
    message: str,
    worktree_root: Path,
) -> tuple[JournaledStep, RevertAttempt]:
    undo = {"mirror": str(mirror), "ref": revert_ref(culprit)}
    with journal.step(STEP_CREATE_REVERT, undo) as step:
        attempt = git_revert.create_revert(
            mirror,
            culprit=culprit,
            head=head,
            branch=service.branch,
            message=message,
            worktree_root=worktree_root,
        )
        step.status, step.detail = ("done" if attempt.sha else "failed"), attempt.detail
    return step, attempt


def create_restore(
    journal: RollbackJournal, mirror: Path, *, target: str, head: str, message: str
) -> tuple[JournaledStep, RevertAttempt]:
    undo = {"mirror": str(mirror), "ref": revert_ref(f"restore-{target}")}
    with journal.step(STEP_CREATE_REVERT, undo) as step:
        attempt = git_revert.create_restore(mirror, target=target, head=head, message=message)
        step.status, step.detail = ("done" if attempt.sha else "failed"), attempt.detail
    return step, attempt


def push_revert(
    journal: RollbackJournal,
    mirror: Path,
    service: ServiceConfig,
    *,
    sha: str,
    branch: str,
    auth: GitAuth | None,
) -> JournaledStep:
    undo = {
        "mirror": str(mirror),
        "repo_url": service.repo,
        "branch": branch,
        "sha": sha,
        "deletable": branch != service.branch,
    }
    with journal.step(STEP_PUSH_REVERT, undo) as step:
        git_revert.push_commit(mirror, repo_url=service.repo, sha=sha, branch=branch, auth=auth)
        step.detail = f"pushed {sha[:12]} to {branch}"
    return step
