"""The bisect flow: find the commit that broke a service, with each round of probes as a
recursive Prefect subflow, and report it (database, markdown artifact, notifications)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger, tags
from prefect.runtime import flow_run
from prefect.states import Failed

from build_monitor.bisection import BisectResult, BisectSettings, BisectStatus
from build_monitor.bisection.flake_rates import flake_rates_per_test
from build_monitor.bisection.plan import (
    BisectPlan,
    first_round_midpoints,
    plan_bisection,
    prior_from_hints,
    require_ancestor,
    require_last_good,
    with_bad_commit_probe,
    with_learned_flake_prior,
    with_test_flake_prior,
)
from build_monitor.bisection.report import (
    CulpritDetails,
    bisect_report,
    nothing_to_bisect,
    render_plan_report,
    with_windows_in_reason,
)
from build_monitor.bisection.rounds import BisectContext, ProbeResult, latest_log_excerpt
from build_monitor.config import Config, ServiceConfig, load_config
from build_monitor.dashboard.excerpt import failure_excerpt
from build_monitor.dashboard.render import Progress, bisection_progress_key
from build_monitor.errors import BuildMonitorError
from build_monitor.history.heartbeat import bisection_heartbeat
from build_monitor.history.models import BisectionStatus
from build_monitor.notifications.bisection_events import bisection_event
from build_monitor.prefect_runtime import without_flow_heartbeat
from build_monitor.rollback.plan import manual_rollback_hint
from flows.bisect_round import bisect_round
from flows.notifying import BackgroundNotifier
from flows.probes import run_probes
from flows.rollback import maybe_auto_rollback
from tasks.artifacts import (
    publish_culprit_report,
    publish_dashboard,
    publish_service_status,
    start_progress,
)
from tasks.bisect_history import (
    read_flake_evidence,
    record_bisection_end,
    record_bisection_result,
    record_bisection_start,
)
from tasks.blocks import load_git_credentials
from tasks.git import (
    check_ancestry,
    fetch_repository,
    list_commit_range,
    list_touched_files,
    read_crate_directories,
    read_diffstat,
    resolve_commit_info,
)
from tasks.history import (
    find_last_passing_ancestor,
    find_recorded_evidence,
    read_log_excerpt,
    read_test_runs,
    register_service,
)
from tasks.limits import one_bisection_per_service
from tasks.run_labels import label_flow_run, run_tags


def _bisect_run_name() -> str:
    parameters = flow_run.get_parameters()
    good, bad = parameters.get("good") or "last-good", parameters.get("bad") or "head"
    return f"bisect {parameters.get('service')} {str(good)[:7]}..{str(bad)[:7]}"


def _flow_run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def _plan(
    config: Config, service: ServiceConfig, mirror: Path, good: str | None, bad: str | None
) -> BisectPlan:
    bad_sha = resolve_commit_info(mirror, bad or f"refs/heads/{service.branch}").sha
    if good is None:
        last_good = find_last_passing_ancestor(config, service, mirror, bad_sha)
        good_sha = require_last_good(last_good, service=service.name, bad=bad_sha)
    else:
        good_sha = resolve_commit_info(mirror, good).sha
    is_ancestor = good_sha != bad_sha and check_ancestry(mirror, good_sha, bad_sha)
    require_ancestor(good_sha, bad_sha, good_is_ancestor=is_ancestor)
    candidates = list_commit_range(
        mirror, since=good_sha, until=bad_sha, first_parent=service.bisect.first_parent
    )
    commits = [good_sha] + [c.sha for c in candidates]
    recorded = find_recorded_evidence(config, service, commits)
    return plan_bisection(
        good_sha, bad_sha, commits[1:], [o for o, _ in recorded], [log for _, log in recorded]
    )


def _first_round(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    plan: BisectPlan,
    settings: BisectSettings,
    bisection_id: int,
) -> tuple[BisectPlan, list[ProbeResult]]:
    """Build the bad commit to learn its failure, with the first midpoint(s) beside it in the
    same round when rounds hold more than one probe."""
    commits = [plan.bad, *first_round_midpoints(plan.commits, settings)]
    if len(commits) > 1:  # concurrent first builds of a new service must not both insert it
        register_service(config, service)
    bad, *beside = run_probes(config, service, mirror, commits, bisection_id, [])
    return with_bad_commit_probe(plan, bad.observation, bad.test_log), beside


def _test_flake_rates(
    config: Config, service: ServiceConfig, plan: BisectPlan, settings: BisectSettings
) -> dict[str, float]:
    """Per-test flake rates from every recorded run of the service's tests."""
    if plan.target is None:
        return {}
    return flake_rates_per_test(
        read_test_runs(config, service.name),
        prior=settings.flake_prior,
        prior_weight=settings.flake_prior_weight,
        known_good=lambda commit: commit == plan.good,
    )


def _learn_flake_prior(
    config: Config, service: ServiceConfig, mirror: Path, target: str, settings: BisectSettings
) -> BisectSettings:
    evidence = read_flake_evidence(config, service.name, mirror, target)
    learned = with_learned_flake_prior(settings, evidence)
    if evidence.runs:
        get_run_logger().info(
            "flake prior %.3f: %d of %d runs of this test at known-good commits in earlier "
            "bisections failed",
            learned.flake_prior,
            evidence.flaky_failures,
            evidence.runs,
        )
    return learned


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
    plan = _plan(config, service_config, mirror, good, bad)
    # Named by the resolved range, e.g. `bisect face-detection a1b2c3d..d4e5f6a`.
    name = f"bisect {service} {plan.good[:7]}..{plan.bad[:7]}"
    label_flow_run(run_tags(service, "bisect"), name, return_state=True)
    bisection_id = record_bisection_start(
        config, service, plan.good, plan.bad, trigger, _flow_run_id()
    )
    publish_service_status(config, service_config, return_state=True)
    try:
        # `history` marks a bisection whose heartbeat stops (a killed process) interrupted.
        # One bisection per service at a time (global concurrency limit `bisect-<service>`).
        with (
            bisection_heartbeat(config.database_url, bisection_id),
            one_bisection_per_service(service),
        ):
            first: list[ProbeResult] = []
            if plan.target_signature is None:
                plan, first = _first_round(
                    config, service_config, mirror, plan, settings, bisection_id
                )
            if plan.target_signature is None:
                return _finish_without_failure(
                    config, service_config, plan, bisection_id, len(first)
                )
            rates = _test_flake_rates(config, service_config, plan, settings)
            if flake_prior is None and not service_config.bisect.flake_prior_configured:
                settings = _learn_flake_prior(
                    config, service_config, mirror, plan.target_signature, settings
                )
                settings = with_test_flake_prior(settings, plan.target, rates)
            hint = None
            if plan.target is not None:
                touched = list_touched_files(
                    mirror, plan.good, plan.bad, service_config.bisect.first_parent
                )
                directories = read_crate_directories(mirror, plan.bad)
                hint = prior_from_hints(plan, touched, directories)
            context = BisectContext(
                service=service,
                config_path=str(config.source) if config.source else None,
                mirror=str(mirror),
                bisection_id=bisection_id,
                commits=plan.commits,
                target_signature=plan.target_signature,
                settings=settings,
                known=plan.known,
                builds_before=plan.builds_before,
                target=plan.target,
                test_flake_rates=rates,
                prior_hint=hint,
            )
            first = [context.judged(probe) for probe in first]
            progress_id = start_progress(
                bisection_progress_key(service),
                Progress(0.0, f"{len(plan.commits) - 1} candidates"),
            )
            with (
                without_flow_heartbeat(),
                tags(*run_tags(service, "bisect")),
            ):
                probes = bisect_round(context, first, 1, progress_id)
            result = with_windows_in_reason(context.search(probes).result())
            return _finish(
                config, service_config, mirror, plan, bisection_id, result, probes, settings
            )
    except BuildMonitorError as exc:
        # A failed run without a traceback; the caller still gets the error raised.
        record_bisection_end(
            config, bisection_id, BisectionStatus.error, plan.target_signature, str(exc)
        )
        return cast(dict[str, Any], Failed(message=str(exc), data=exc))
    except BaseException:
        record_bisection_end(
            config,
            bisection_id,
            BisectionStatus.error,
            plan.target_signature,
            "the bisection stopped on an error; see its flow run",
        )
        raise


def _finish(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    plan: BisectPlan,
    bisection_id: int,
    result: BisectResult,
    probes: list[ProbeResult],
    settings: BisectSettings,
) -> dict[str, Any]:
    culprit, log_excerpt, next_action = None, None, None
    if result.culprit:
        info = resolve_commit_info(mirror, result.culprit)
        culprit = CulpritDetails(
            info.sha, info.author, info.subject, read_diffstat(mirror, info.sha)
        )
        log_excerpt = latest_log_excerpt(probes, result.culprit) or read_log_excerpt(
            config, service.name, result.culprit
        )
        if not service.rollback.auto:
            next_action = manual_rollback_hint(service, result.culprit, plan.good)
    markdown = render_plan_report(
        service=service.name,
        plan=plan,
        result=result,
        culprit=culprit,
        log_excerpt=failure_excerpt(log_excerpt),
        next_action=next_action,
    )
    record_bisection_result(
        config, bisection_id, result, plan.target_signature, culprit, markdown, log_excerpt
    )
    publish_culprit_report(
        f"culprit-{service.name}",
        markdown,
        f"bisection of {service.name} {plan.good[:10]}..{plan.bad[:10]}",
    )
    publish_dashboard(config, service)
    notifier = BackgroundNotifier(config)
    notifier.send(
        bisection_event(
            service=service.name,
            branch=service.branch,
            plan=plan,
            result=result,
            culprit=culprit,
            log_excerpt=log_excerpt,
            next_action=next_action,
            flow_run_id=_flow_run_id(),
        )
    )
    notifier.wait()
    rollback = None
    if result.status is BisectStatus.CONFIRMED and result.culprit:
        outcome = maybe_auto_rollback(config, service.name, result.culprit, plan.good)
        rollback = outcome.to_json() if outcome is not None else None
    get_run_logger().info("%s: %s", service.name, result.reason)
    return bisect_report(
        service=service.name,
        plan=plan,
        result=result,
        culprit=culprit,
        markdown=markdown,
        bisection_id=bisection_id,
        flow_run_id=_flow_run_id(),
        rollback=rollback,
        flake_prior=settings.flake_prior,
    ).model_dump()


def _finish_without_failure(
    config: Config, service: ServiceConfig, plan: BisectPlan, bisection_id: int, other_builds: int
) -> dict[str, Any]:
    result = nothing_to_bisect(plan, other_builds)
    record_bisection_end(config, bisection_id, BisectionStatus.inconclusive, None, result.reason)
    return bisect_report(
        service=service.name,
        plan=plan,
        result=result,
        culprit=None,
        markdown=result.reason,
        bisection_id=bisection_id,
        flow_run_id=_flow_run_id(),
    ).model_dump()
