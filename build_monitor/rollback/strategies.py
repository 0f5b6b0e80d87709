"""The two ways a rollback changes a service: redeploy the target's image as the live container,
or push a tested revert. Each runs its changes inside the shell's `undo_on_failure`, so a step
that fails undoes the earlier ones; a verification that fails raises `VerificationFailed`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from build_monitor.builders.docker import image_tag
from build_monitor.git.repo import commit_info
from build_monitor.rollback import git_revert
from build_monitor.rollback.failures import RollbackRefused, RollbackStepFailed, VerificationFailed
from build_monitor.rollback.plan import push_target, restore_message, revert_message

if TYPE_CHECKING:
    from build_monitor.rollback.run import RollbackRun

Change = Literal["changed", "noop"]


# ---------------------------------------------------------------- redeploy


def redeploy(run: RollbackRun, target: str) -> Change:
    shell, service, journal = run.shell, run.service, run.journal
    image = image_tag(service.name, target)
    image_id = shell.find_image(image)
    live = shell.read_live()
    journal.update(from_commit=live.commit)  # read under the lock: what is live now
    if (
        image_id is not None
        and live.running
        and live.commit == target
        and live.image_id == image_id
        and live.live_tag_image_id == image_id
        and shell.verify_live().passed
    ):
        detail = f"bm-{service.name} already runs {target[:12]} and answers its health check"
        journal.record("check_live", "done", detail)
        run.verified(True, detail)
        _move_registry_live_tag(run, target)
        return "noop"
    if image_id is None:
        image_id = _pull_image(run, target, image)
    if image_id is None:
        passed, _, report = run.check(target)
        detail = f"{image} was pruned: rebuilt, {report.status}"
        journal.record("rebuild_image", "done" if passed else "failed", detail)
        if not passed:
            raise RollbackRefused(
                f"target_passes: {target[:12]} no longer passes: {report.signature}"
            )
    candidate = shell.check_candidate(image, target)
    if not candidate.passed:
        detail = f"the new container failed its health check: {candidate.signature}"
        journal.record("check_candidate", "failed", detail)
        raise RollbackStepFailed(f"{detail}; the old container keeps serving")
    journal.record("check_candidate", "done", f"{image} answered its health check")
    try:
        with shell.undo_on_failure():
            shell.move_live_tag(journal, image)
            handover = shell.hand_over(journal, image, target)
            # What was actually replaced: the container the handover stopped, under the lock.
            journal.update(from_commit=handover.previous_commit)
            health = shell.verify_live()
            if not health.passed:
                journal.record("verify_live", "failed", str(health.signature))
                raise VerificationFailed(
                    f"verification failed: the new live container is unhealthy "
                    f"({health.signature}); the previous one was restored"
                )
            detail = f"bm-{service.name} runs {target[:12]} and answers its health check"
            journal.record("verify_live", "done", detail)
            run.verified(True, detail)
    except VerificationFailed as exc:
        run.verified(False, str(exc))
        _check_restored(run)
        raise
    except Exception as exc:
        _check_restored(run)
        raise RollbackStepFailed(
            f"redeploy failed: {type(exc).__name__}: {exc}; what had changed was undone"
        ) from exc
    _move_registry_live_tag(run, target)
    return "changed"


def _pull_image(run: RollbackRun, target: str, image: str) -> str | None:
    """A host that lacks the target's image pulls it from the registry, if there is one;
    the local image id, or None (no registry, not in it, or unreachable: rebuild instead)."""
    try:
        pulled = run.shell.pull_image(target)
    except Exception as exc:
        run.journal.record("pull_image", "failed", f"{image} could not be pulled: {exc}")
        return None
    if pulled is None:
        return None
    run.journal.record(
        "pull_image", "done", f"{image} was not on this host: pulled {pulled.reference}"
    )
    return run.shell.find_image(image)


def _move_registry_live_tag(run: RollbackRun, target: str) -> None:
    """Once the live container is verified: point the registry's `live` tag at it too. A
    registry that fails here never undoes a verified rollback; the step records it."""
    try:
        moved = run.shell.push_live_tag(target)
    except Exception as exc:
        detail = f"the registry's live tag still points at the previous image: {exc}"
        run.journal.record("push_live_tag", "failed", detail)
        run.shell.logger.warning("%s: %s", run.service.name, detail)
        return
    if moved is not None:
        detail = f"{moved.reference} -> {target[:12]} ({moved.digest or 'digest unknown'})"
        run.journal.record("push_live_tag", "done", detail)


def _check_restored(run: RollbackRun) -> None:
    live = run.shell.read_live()
    if live.container_id is None:
        run.journal.record("check_restored", "done", "there was no live container before")
        return
    health = run.shell.verify_live()
    detail = f"the restored live container ({(live.commit or '?')[:12]}) " + (
        "answers its health check" if health.passed else f"is unhealthy: {health.signature}"
    )
    run.journal.record("check_restored", "done" if health.passed else "failed", detail)
    if not health.passed:
        run.shell.logger.error("%s: %s", run.service.name, detail)


# ---------------------------------------------------------------- revert


def revert(run: RollbackRun, target: str) -> Change:
    shell, service, request, journal = run.shell, run.service, run.request, run.journal
    mirror, head = run.mirror, run.head
    branch = push_target(service, request.culprit or target)
    if request.culprit is not None:
        existing = git_revert.find_revert(
            mirror, request.culprit, request.culprit, f"refs/heads/{service.branch}"
        ) or git_revert.find_revert(
            mirror, request.culprit, request.culprit, f"refs/heads/{branch}"
        )
        if existing:
            return _already_reverted(
                run, f"{request.culprit[:12]} is already reverted by {existing[:12]}"
            )
    try:
        with shell.undo_on_failure():
            if request.culprit is not None:
                subject = commit_info(mirror, request.culprit).subject
                message = revert_message(request.culprit, subject, request.reason, request.trigger)
                attempt = shell.create_revert(journal, mirror, request.culprit, head, message)
            else:
                message = restore_message(target, head, request.reason, request.trigger)
                attempt = shell.create_restore(journal, mirror, target, head, message)
            if attempt.sha is None:
                if attempt.already_reverted:
                    return _already_reverted(run, attempt.detail)
                raise RollbackStepFailed(f"revert not pushed: {attempt.detail}")
            journal.update(revert_commit=attempt.sha)
            passed, detail, _ = run.check(attempt.sha, trigger="rollback-revert")
            journal.record("build_revert", "done" if passed else "failed", detail)
            if not passed:
                raise RollbackStepFailed(f"revert not pushed: it failed its build: {detail}")
            shell.push_revert(journal, mirror, attempt.sha, branch)
            journal.update(pushed_ref=branch)
            pushed = shell.read_remote_branch(mirror, branch)
            if pushed != attempt.sha:
                journal.record("verify_revert", "failed", f"{branch} is at {pushed}")
                raise VerificationFailed(
                    f"verification failed: {branch} is at {(pushed or 'nothing')[:12]}, "
                    f"not the tested revert {attempt.sha[:12]}"
                )
            detail = f"{branch} holds {attempt.sha[:12]}, whose build passed"
            journal.record("verify_revert", "done", detail)
            run.verified(True, detail)
    except RollbackStepFailed as exc:
        journal.update(pushed_ref=None)
        if isinstance(exc, VerificationFailed):
            run.verified(False, str(exc))
        raise
    except Exception as exc:
        journal.update(pushed_ref=None)
        raise RollbackStepFailed(
            f"revert failed: {type(exc).__name__}: {exc}; what had changed was undone"
        ) from exc
    return "changed"


def _already_reverted(run: RollbackRun, detail: str) -> Change:
    run.journal.record("check_revert", "done", detail)
    run.verified(True, detail)
    return "noop"
