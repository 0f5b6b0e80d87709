"""Which notification a finished bisection produces."""

from __future__ import annotations

from build_monitor.bisection.plan import BisectPlan
from build_monitor.bisection.report import CulpritDetails
from build_monitor.bisection.result import BisectResult
from build_monitor.notifications.events import CulpritInfo, NotificationEvent


def bisection_event(
    *,
    service: str,
    branch: str,
    plan: BisectPlan,
    result: BisectResult,
    culprit: CulpritDetails | None,
    log_excerpt: str | None,
    next_action: str | None,
    flow_run_id: str | None,
) -> NotificationEvent:
    """`culprit_found` when a culprit was named, else `bisect_inconclusive`."""
    if culprit is None:
        return NotificationEvent(
            event="bisect_inconclusive",
            service=service,
            commit=plan.bad,
            branch=branch,
            signature=plan.target_signature,
            flow_run_id=flow_run_id,
            candidates=[commit for commit, _ in result.suspects],
        )
    return NotificationEvent(
        event="culprit_found",
        service=service,
        commit=culprit.sha,
        author=culprit.author,
        subject=culprit.subject,
        branch=branch,
        signature=plan.target_signature,
        log_excerpt=log_excerpt,
        flow_run_id=flow_run_id,
        culprit=CulpritInfo(
            commit=culprit.sha,
            author=culprit.author,
            subject=culprit.subject,
            last_good_commit=plan.good,
            builds_run=result.builds,
        ),
        next_action=next_action,
    )
