"""What a rollback is asked to do and the names and messages it uses (pure)."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from build_monitor.config import ServiceConfig
from build_monitor.errors import InvalidInputError
from build_monitor.rollback.config import Strategy
from build_monitor.validation import validate_service_name

Action = Literal["rollback", "emergency", "deploy"]
AUTOMATIC_TRIGGERS = frozenset({"bisect", "auto"})
REVERT_REF_NAMESPACE = "refs/build-monitor/reverts"


@dataclass(frozen=True)
class RollbackRequest:
    service: str
    action: Action
    strategy: Strategy
    # A commit-ish; None: the last passing build (emergency), the branch head (deploy).
    target: str | None
    reason: str
    trigger: str
    triggered_by: str
    culprit: str | None = None
    culprit_committed_at: datetime | None = None
    dry_run: bool = False

    @property
    def automatic(self) -> bool:
        return self.trigger in AUTOMATIC_TRIGGERS


def default_triggered_by(trigger: str, flow_run_id: str | None) -> str:
    if trigger in ("cli", "demo"):
        return f"{getpass.getuser()}@{socket.gethostname()}"
    return f"{trigger} (flow run {flow_run_id})" if flow_run_id else trigger


def new_request(
    service: ServiceConfig,
    *,
    action: Action,
    strategy: Strategy | None,
    target: str | None,
    reason: str,
    trigger: str,
    triggered_by: str | None,
    flow_run_id: str | None,
    culprit: str | None = None,
    culprit_committed_at: datetime | None = None,
    dry_run: bool = False,
) -> RollbackRequest:
    """A checked request; `strategy` None takes the service's."""
    validate_service_name(service.name)
    if action == "rollback" and not reason.strip():
        raise InvalidInputError("a rollback needs a reason")
    return RollbackRequest(
        service=service.name,
        action=action,
        strategy=strategy or service.rollback.strategy,
        target=target,
        reason=reason.strip(),
        trigger=trigger,
        triggered_by=triggered_by or default_triggered_by(trigger, flow_run_id),
        culprit=culprit,
        culprit_committed_at=culprit_committed_at,
        dry_run=dry_run,
    )


@dataclass(frozen=True)
class LivePorts:
    container_port: int
    host_address: str
    host_port: int

    @property
    def probe_host(self) -> str:
        return "127.0.0.1" if self.host_address in ("0.0.0.0", "") else self.host_address


def live_container_name(service: str) -> str:
    return f"bm-{service}"


def live_ports(service: ServiceConfig) -> LivePorts:
    settings = service.rollback
    container_port = settings.container_port or (service.health.port if service.health else None)
    if container_port is None:
        raise InvalidInputError(
            f"service {service.name!r} has no port for its live container: set "
            "[services.health] port or [services.rollback] container_port"
        )
    return LivePorts(
        container_port=container_port,
        host_address=settings.host_address,
        host_port=settings.host_port or container_port,
    )


def redeploy_problem(service: ServiceConfig) -> str | None:
    """Why this service cannot be redeployed, or None."""
    if service.builder != "docker":
        return f"strategy 'redeploy' needs builder = 'docker' (service {service.name!r} is local)"
    if service.health is None:
        return (
            f"strategy 'redeploy' verifies the new container with its health check: add "
            f"[services.health] to service {service.name!r}"
        )
    return None


def revert_branch_name(prefix: str, culprit: str) -> str:
    return f"{prefix}{culprit[:12]}"


def push_target(service: ServiceConfig, culprit_or_target: str) -> str:
    """The branch a tested revert is pushed to."""
    if service.rollback.push_to == "branch":
        return service.branch
    return revert_branch_name(service.rollback.revert_branch_prefix, culprit_or_target)


def revert_ref(key: str) -> str:
    return f"{REVERT_REF_NAMESPACE}/{key}"


def mainline_parent(parents: Sequence[str], first_parent_chain: Collection[str]) -> int | None:
    """For a merge, the 1-based parent number `git revert -m` needs: the parent on the branch's
    first-parent history (the side the merge went into). None for an ordinary commit."""
    if len(parents) < 2:
        return None
    for number, parent in enumerate(parents, start=1):
        if parent in first_parent_chain:
            return number
    return 1


def revert_message(culprit: str, subject: str, reason: str, trigger: str) -> str:
    return (
        f'Revert "{subject}"\n\n'
        f"This reverts commit {culprit}.\n\n"
        f"Reason: {reason or 'rolled back by build-monitor'}\n"
        f"Rolled-back-by: build-monitor ({trigger})\n"
    )


def restore_message(target: str, head: str, reason: str, trigger: str) -> str:
    return (
        f"Roll back to {target[:12]}\n\n"
        f"This reverts every change after commit {target}, up to {head}.\n\n"
        f"Reason: {reason or 'rolled back by build-monitor'}\n"
        f"Rolled-back-by: build-monitor ({trigger})\n"
    )


def reverts_marker(commit: str) -> str:
    return f"This reverts commit {commit}."


def concurrency_limit_name(service: str) -> str:
    return f"rollback-{service}"


def manual_rollback_hint(service: ServiceConfig, culprit: str, last_good: str) -> str:
    """For the culprit report when `auto = false`: the command that rolls back."""
    return (
        f'build-monitor rollback {service.name} {last_good[:12]} "culprit {culprit[:12]}" '
        f"--culprit {culprit[:12]}  (strategy: {service.rollback.strategy})"
    )


def planned_steps(
    service: ServiceConfig,
    request: RollbackRequest,
    target: str,
    head: str,
    *,
    needs_build: bool,
    image: str,
    live_tag: str,
) -> list[tuple[str, str]]:
    """What a dry run reports it would do: (step, detail), in order."""
    steps: list[tuple[str, str]] = []
    if needs_build:
        steps.append(("verify_target", f"build, test and health-check {target[:12]} first"))
    if request.strategy in ("redeploy", "both"):
        steps += [
            ("check_candidate", f"start {image} beside the live container, health-check it"),
            ("move_live_tag", f"point {live_tag} at {image}"),
            ("hand_over", "stop the old live container, start the new one on the live port"),
            ("verify_live", "health-check the live port"),
        ]
    if request.strategy in ("revert", "both"):
        what = (
            f"git revert {request.culprit[:12]}"
            if request.culprit
            else f"a commit restoring {target[:12]}"
        )
        branch = push_target(service, request.culprit or target)
        steps += [
            ("create_revert", f"{what} on top of {head[:12]}"),
            ("build_revert", f"build, test and health-check it with the {service.builder} builder"),
            ("push_revert", f"push it to {branch} only if it passed"),
            ("verify_revert", f"check that {branch} holds the tested commit"),
        ]
    return steps
