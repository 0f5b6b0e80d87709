"""The bisect flow: find the commit that broke a service, with each round of probes as a
recursive Prefect subflow, and report it (database, markdown artifact, notifications)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from pydantic import BaseModel

from build_monitor.bisection import (
    BisectResult,
    BisectSearch,
    BisectSettings,
    BisectStatus,
    Observation,
    Outcome,
)
from build_monitor.bisection.flake_history import learned_flake_prior
from build_monitor.bisection.report import CulpritDetails, render_report
from build_monitor.config import Config, ServiceConfig, load_config
from build_monitor.errors import GitError, InfrastructureError, InvalidInputError
from build_monitor.git.repo import commit_info, diffstat, is_ancestor, list_commits
from build_monitor.history import bisections, crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import BisectionStatus
from build_monitor.notifications.events import CulpritInfo, NotificationEvent
from flows.check import load_git_credentials
from flows.notifying import BackgroundNotifier
from flows.rollback import manual_rollback_hint, maybe_auto_rollback
from tasks.bisect import probe_commit
from tasks.git import fetch_repository


class BisectContext(BaseModel):
    """What every round needs; JSON, so it travels as a subflow parameter."""

    service: str
    config_path: str | None
    mirror: str
    bisection_id: int
    commits: list[str]
    target_signature: str
    settings: dict[str, Any]
    known: list[dict[str, Any]]

    def search(self, observations: list[dict[str, Any]]) -> BisectSearch:
        return BisectSearch.replay(
            self.commits,
            target_signature=self.target_signature,
            settings=BisectSettings.from_dict(self.settings),
            known=[Observation.from_dict(o) for o in self.known],
            observations=[Observation.from_dict(o) for o in observations],
        )


@dataclass(frozen=True)
class BisectPlan:
    good: str
    bad: str
    commits: list[str]
    known: list[Observation]
    target_signature: str | None
    # Builds run before the search (the bad commit, when no failure of it was recorded).
    builds_before: int = 0


def _round_name() -> str:
    parameters = flow_run.get_parameters()
    context = parameters.get("context") or {}
    commits = context.get("commits") or ["?", "?"]
    return (
        f"bisect {context.get('service')} {commits[0][:6]}..{commits[-1][:6]} "
        f"round {parameters.get('round_number')}"
    )


def _observation_fields(observation: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in observation.items() if k != "log_excerpt"}


@flow(name="bisect-round", flow_run_name=_round_name, validate_parameters=False)
def bisect_round(
    context: dict[str, Any], observations: list[dict[str, Any]], round_number: int = 1
) -> list[dict[str, Any]]:
    """One round: ask the search which commits to probe, probe them concurrently, then recurse
    into the next round as a subflow until the search is done."""
    ctx = BisectContext.model_validate(context)
    search = ctx.search([_observation_fields(o) for o in observations])
    if search.done:
        return observations
    commits = search.next_probes()
    config = load_config(Path(ctx.config_path) if ctx.config_path else None)
    service = config.service(ctx.service)
    mirror = Path(ctx.mirror)
    keep = search.likely_reruns()
    futures = [
        probe_commit.submit(config, service, mirror, commit, ctx.bisection_id, keep)
        for commit in commits
    ]
    results = [future.result() for future in futures]
    get_run_logger().info(
        "round %d: %s",
        round_number,
        ", ".join(f"{r['commit'][:10]} {r['outcome']}" for r in results),  # type: ignore[index]
    )
    # The parent's heartbeat covers nested rounds; each one would otherwise add ~1 s on exit.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return bisect_round(context, observations + results, round_number + 1)


def _bisect_run_name() -> str:
    parameters = flow_run.get_parameters()
    good, bad = parameters.get("good") or "last-good", parameters.get("bad") or "head"
    return f"bisect {parameters.get('service')} {str(good)[:6]}..{str(bad)[:6]}"


def _name_run_after_range(service: str, plan: BisectPlan) -> None:
    """Runs are named by the resolved range, e.g. `bisect face-detection a1b2c3..d4e5f6`."""
    from prefect.client.orchestration import get_client

    run_id = flow_run.get_id()
    if run_id is None:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(
            UUID(str(run_id)), name=f"bisect {service} {plan.good[:6]}..{plan.bad[:6]}"
        )


def plan_bisection(
    config: Config, service: ServiceConfig, mirror: Path, good: str | None, bad: str | None
) -> BisectPlan:
    bad_sha = commit_info(mirror, bad or f"refs/heads/{service.branch}").sha
    key = service.build_config_key
    if good is None:
        with session_scope(config.database_url) as session:
            last_good = bisections.last_passing_ancestor_build(
                session=session,
                service=service.name,
                config_key=key,
                is_ancestor=lambda c: c != bad_sha and is_ancestor(mirror, c, bad_sha),
            )
        if last_good is None:
            raise InvalidInputError(
                f"no passing build of {service.name} is recorded before {bad_sha[:10]}: "
                "pass --good REF (a commit known to build and pass)"
            )
        good_sha = last_good.commit
    else:
        good_sha = commit_info(mirror, good).sha
    if good_sha == bad_sha or not is_ancestor(mirror, good_sha, bad_sha):
        raise InvalidInputError(f"good {good_sha[:10]} is not an ancestor of bad {bad_sha[:10]}")
    candidates = list_commits(
        mirror, since=good_sha, until=bad_sha, first_parent=service.bisect.first_parent
    )
    commits = [good_sha] + [c.sha for c in candidates]
    with session_scope(config.database_url) as session:
        recorded = bisections.recorded_observations(
            session=session, service=service.name, config_key=key, commits=commits
        )
    known = [observation for _, observation in recorded]
    bad_failures = [o for o in known if o.commit == bad_sha and o.outcome is Outcome.FAILED]
    target = bad_failures[-1].signature if bad_failures else None
    return BisectPlan(good_sha, bad_sha, commits, known, target)


def _probe_bad_commit(
    config: Config, service: ServiceConfig, mirror: Path, plan: BisectPlan, bisection_id: int
) -> BisectPlan:
    """Without a recorded failure of the bad commit, build it once to learn the signature."""
    observation = Observation.from_dict(
        _observation_fields(probe_commit(config, service, mirror, plan.bad, bisection_id))
    )
    if observation.outcome is Outcome.ERROR:
        raise InfrastructureError(
            f"cannot build {plan.bad[:10]} to learn its failure: {observation.signature}"
        )
    known = [*plan.known, Observation.from_dict({**observation.to_dict(), "cached": True})]
    signature = observation.signature if observation.outcome is Outcome.FAILED else None
    return BisectPlan(plan.good, plan.bad, plan.commits, known, signature, builds_before=1)


class BisectReport(BaseModel):
    """`build-monitor bisect --json` (a contract: extend only)."""

    service: str
    status: str
    good: str
    bad: str
    culprit: str | None
    culprit_author: str | None
    culprit_subject: str | None
    confidence: float
    signature: str | None
    builds: int
    probes: list[dict[str, Any]]
    suspects: list[dict[str, Any]]
    reason: str
    flow_run_id: str | None
    bisection_id: int
    candidates: int
    report: str
    # The automatic rollback a confirmed culprit started (`[services.rollback] auto = true`).
    rollback: dict[str, Any] | None = None
    # The flake prior the search started from: configured, given, or learned from history.
    flake_prior: float | None = None


@flow(name="bisect", flow_run_name=_bisect_run_name, validate_parameters=True)
def bisect(
    service: str,
    good: str | None = None,
    bad: str | None = None,
    parallel: int | None = None,
    flake_prior: float | None = None,
    trigger: str = "cli",
    config_path: str | None = None,
) -> dict[str, Any]:
    """Find the commit between `good` (default: the last passing build) and `bad` (default: the
    branch head) that broke the service, flake- and signature-aware, and verify it."""
    config = load_config(Path(config_path) if config_path else None)
    service_config = config.service(service)
    settings = service_config.bisect.settings(parallel=parallel, flake_prior=flake_prior)
    mirror = fetch_repository(
        service_config, config.cache_dir, load_git_credentials(service_config)
    )
    plan = plan_bisection(config, service_config, mirror, good, bad)
    _name_run_after_range(service, plan)
    run_id = flow_run.get_id()
    with session_scope(config.database_url) as session:
        bisection_id = bisections.start_bisection(
            session=session,
            service=service,
            good=plan.good,
            bad=plan.bad,
            trigger=trigger,
            flow_run_id=str(run_id) if run_id else None,
        ).id
    assert bisection_id is not None
    try:
        if plan.target_signature is None:
            plan = _probe_bad_commit(config, service_config, mirror, plan, bisection_id)
        if plan.target_signature is None:
            return _finish_without_failure(config, service_config, plan, bisection_id)
        if flake_prior is None and not service_config.bisect.flake_prior_configured:
            settings = _with_learned_flake_prior(
                config, service_config, mirror, plan.target_signature, settings
            )
        context = BisectContext(
            service=service,
            config_path=str(config.source) if config.source else None,
            mirror=str(mirror),
            bisection_id=bisection_id,
            commits=plan.commits,
            target_signature=plan.target_signature,
            settings=settings.to_dict(),
            known=[o.to_dict() for o in plan.known],
        )
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            observations = bisect_round(context.model_dump(), [], 1)
        result = context.search([_observation_fields(o) for o in observations]).result()
        return _finish(
            config,
            service_config,
            mirror,
            plan,
            bisection_id,
            result,
            observations,
            flake_prior=settings.flake_prior,
        )
    except BaseException:
        with session_scope(config.database_url) as session:
            bisections.finish_bisection(
                session=session,
                bisection_id=bisection_id,
                result=None,
                status=BisectionStatus.error,
                signature=plan.target_signature,
                reason="the bisection stopped on an error; see its flow run",
            )
        raise


def _with_learned_flake_prior(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    target_signature: str,
    settings: BisectSettings,
) -> BisectSettings:
    """Raise the default flake prior towards the rate earlier bisections of this failure saw."""

    @functools.cache  # reruns repeat commits; each answer is a git call
    def is_before(commit: str, culprit: str) -> bool:
        try:
            return commit != culprit and is_ancestor(mirror, commit, culprit)
        except GitError:  # a culprit no longer in the mirror (history rewritten)
            return False

    with session_scope(config.database_url) as session:
        evidence = bisections.flake_evidence(
            session=session,
            service=service.name,
            target_signature=target_signature,
            is_before=is_before,
        )
    if not evidence.runs:
        return settings
    prior = learned_flake_prior(
        evidence, prior=settings.flake_prior, prior_weight=settings.flake_prior_weight
    )
    get_run_logger().info(
        "flake prior %.3f: %d of %d runs of this test at known-good commits in earlier "
        "bisections failed",
        prior,
        evidence.flaky_failures,
        evidence.runs,
    )
    return replace(settings, flake_prior=prior)


_STATUS_TO_RECORD = {
    BisectStatus.CONFIRMED: BisectionStatus.confirmed,
    BisectStatus.UNVERIFIED: BisectionStatus.confirmed,
    BisectStatus.INCONCLUSIVE: BisectionStatus.inconclusive,
    BisectStatus.NO_CULPRIT: BisectionStatus.inconclusive,
}


def _finish(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    plan: BisectPlan,
    bisection_id: int,
    result: BisectResult,
    observations: list[dict[str, Any]],
    *,
    flake_prior: float,
) -> dict[str, Any]:
    culprit = None
    log_excerpt = None
    if result.culprit:
        info = commit_info(mirror, result.culprit)
        culprit = CulpritDetails(info.sha, info.author, info.subject, diffstat(mirror, info.sha))
        log_excerpt = next(
            (
                str(o["log_excerpt"])
                for o in reversed(observations)
                if o["commit"] == result.culprit and o.get("log_excerpt")
            ),
            None,
        ) or _recorded_excerpt(config, service, result.culprit)
    next_action = (
        manual_rollback_hint(service, result.culprit, plan.good)
        if result.culprit and not service.rollback.auto
        else None
    )
    all_observations = [*plan.known, *result.observations]
    report = render_report(
        service=service.name,
        good=plan.good,
        bad=plan.bad,
        candidates=len(plan.commits) - 1,
        signature=plan.target_signature or "",
        result=result,
        observations=all_observations,
        culprit=culprit,
        log_excerpt=log_excerpt,
        next_action=next_action,
    )
    with session_scope(config.database_url) as session:
        bisections.finish_bisection(
            session=session,
            bisection_id=bisection_id,
            result=result,
            status=_STATUS_TO_RECORD[result.status],
            signature=plan.target_signature,
            culprit_author=culprit.author if culprit else None,
            culprit_subject=culprit.subject if culprit else None,
            report=report,
            log_excerpt=log_excerpt,
        )
    create_markdown_artifact(
        key=f"culprit-{service.name}",
        markdown=report,
        description=f"bisection of {service.name} {plan.good[:10]}..{plan.bad[:10]}",
    )
    _notify(config, service, plan, result, culprit, log_excerpt, next_action)
    rollback = None
    if result.status is BisectStatus.CONFIRMED and result.culprit:
        outcome = maybe_auto_rollback(config, service.name, result.culprit, plan.good)
        rollback = outcome.to_json() if outcome is not None else None
    document = BisectReport(
        service=service.name,
        status=result.status.value,
        good=plan.good,
        bad=plan.bad,
        culprit=result.culprit,
        culprit_author=culprit.author if culprit else None,
        culprit_subject=culprit.subject if culprit else None,
        confidence=round(result.confidence, 6),
        signature=plan.target_signature,
        builds=result.builds + plan.builds_before,
        probes=[_probe_row(o) for o in all_observations],
        suspects=[{"commit": c, "probability": round(p, 6)} for c, p in result.suspects]
        if result.status is not BisectStatus.CONFIRMED
        else [],
        reason=result.reason,
        flow_run_id=_flow_run_id(),
        bisection_id=bisection_id,
        candidates=len(plan.commits) - 1,
        report=report,
        rollback=rollback,
        flake_prior=flake_prior,
    )
    get_run_logger().info("%s: %s", service.name, result.reason)
    return document.model_dump()


def _probe_row(observation: Observation) -> dict[str, Any]:
    return {
        "commit": observation.commit,
        "outcome": observation.outcome.value,
        "signature": observation.signature,
        "duration_s": round(observation.duration_s, 3),
        "cached": observation.cached,
    }


def _flow_run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def _recorded_excerpt(config: Config, service: ServiceConfig, commit: str) -> str | None:
    with session_scope(config.database_url) as session:
        build = crud.latest_final_build_for_commit(
            session=session, service=service.name, commit=commit
        )
        return build.log_excerpt if build else None


def _finish_without_failure(
    config: Config, service: ServiceConfig, plan: BisectPlan, bisection_id: int
) -> dict[str, Any]:
    reason = f"the bad commit {plan.bad[:10]} passed when rebuilt: nothing to bisect"
    with session_scope(config.database_url) as session:
        bisections.finish_bisection(
            session=session,
            bisection_id=bisection_id,
            result=None,
            status=BisectionStatus.inconclusive,
            signature=None,
            reason=reason,
        )
    return BisectReport(
        service=service.name,
        status=BisectStatus.NO_CULPRIT.value,
        good=plan.good,
        bad=plan.bad,
        culprit=None,
        culprit_author=None,
        culprit_subject=None,
        confidence=0.0,
        signature=None,
        builds=1,
        probes=[_probe_row(o) for o in plan.known],
        suspects=[],
        reason=reason,
        flow_run_id=_flow_run_id(),
        bisection_id=bisection_id,
        candidates=len(plan.commits) - 1,
        report=reason,
    ).model_dump()


def _notify(
    config: Config,
    service: ServiceConfig,
    plan: BisectPlan,
    result: BisectResult,
    culprit: CulpritDetails | None,
    log_excerpt: str | None,
    next_action: str | None,
) -> None:
    notifier = BackgroundNotifier(config)
    if culprit is not None:
        event = NotificationEvent(
            event="culprit_found",
            service=service.name,
            commit=culprit.sha,
            author=culprit.author,
            subject=culprit.subject,
            branch=service.branch,
            signature=plan.target_signature,
            log_excerpt=log_excerpt,
            flow_run_id=_flow_run_id(),
            culprit=CulpritInfo(
                commit=culprit.sha,
                author=culprit.author,
                subject=culprit.subject,
                last_good_commit=plan.good,
                builds_run=result.builds,
            ),
            next_action=next_action,
        )
    else:
        event = NotificationEvent(
            event="bisect_inconclusive",
            service=service.name,
            commit=plan.bad,
            branch=service.branch,
            signature=plan.target_signature,
            flow_run_id=_flow_run_id(),
            candidates=[commit for commit, _ in result.suspects],
        )
    notifier.send(event)
    notifier.wait()
