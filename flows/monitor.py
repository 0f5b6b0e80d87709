"""The monitor flow: fetch a service's branch, build the commits not yet built, set its state."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from build_monitor.bisection.plan import first_failed_commit
from build_monitor.config import Config, ServiceConfig, load_config
from build_monitor.errors import BuildMonitorError
from build_monitor.git.repo import CommitInfo
from build_monitor.history.monitor_plan import pending_commits, starts_bisection, window_size
from build_monitor.history.reports import BuildReport
from build_monitor.notifications.build_events import build_event
from flows.bisect import bisect
from flows.notifying import BackgroundNotifier
from tasks.artifacts import publish_dashboard
from tasks.blocks import load_git_credentials
from tasks.check import check_and_record
from tasks.git import fetch_repository, list_commit_range, resolve_branch_head
from tasks.history import (
    find_built_commits,
    find_last_passing_ancestor,
    find_recorded_observations,
    read_service_state,
    register_service,
)
from tasks.rollback import recover_service
from tasks.run_labels import label_flow_run, run_tags


def _commits_to_build(
    config: Config, service: ServiceConfig, mirror: Path, head: str
) -> list[CommitInfo]:
    window = list_commit_range(
        mirror, since=None, until=head, limit=window_size(service.max_commits_per_run)
    )
    built = find_built_commits(config, service.name, [c.sha for c in window])
    return pending_commits(
        window,
        built,
        build_each_commit=service.build_each_commit,
        max_commits=service.max_commits_per_run,
    )


def _bisect_new_failure(
    config: Config, service: ServiceConfig, mirror: Path, head: str
) -> dict[str, object] | None:
    """Bisect from the last passing build before `head` to the first failing commit after it."""
    logger = get_run_logger()
    good = find_last_passing_ancestor(config, service, mirror, head)
    if good is None:
        logger.warning(
            "%s turned red but no passing build is recorded before it: "
            "run `build-monitor bisect %s --good REF`",
            service.name,
            service.name,
        )
        return None
    after = [c.sha for c in list_commit_range(mirror, since=good, until=head)]
    bad = first_failed_commit(after, find_recorded_observations(config, service, after), head)
    try:
        return bisect(
            service=service.name,
            good=good,
            bad=bad,
            trigger="monitor",
            config_path=str(config.source) if config.source else None,
        )
    except BuildMonitorError as exc:
        logger.error("%s: the bisection could not run: %s", service.name, exc)
        return None


def _monitor_run_name() -> str:
    parameters = flow_run.get_parameters()
    return f"monitor {parameters.get('service')}"


@flow(name="monitor", flow_run_name=_monitor_run_name, validate_parameters=True)
def monitor(
    service: str,
    commit: str | None = None,
    before: str | None = None,
    trigger: str = "poll",
    config_path: str | None = None,
) -> dict[str, object]:
    """Fetch the service's branch and build what is new; mark the service healthy or failing.

    `commit`/`before` come from a push event: the pushed head and the previous head.
    """
    logger = get_run_logger()
    config = load_config(Path(config_path) if config_path else None)
    service_config = config.service(service)
    recover_service(config, service_config)  # a rollback killed mid-handover left it down
    mirror = fetch_repository(
        service_config, config.cache_dir, load_git_credentials(service_config)
    )
    head = resolve_branch_head(mirror, service_config.branch, commit).sha
    name = f"monitor {service} @ {head[:7]}"
    label_flow_run(run_tags(service, "monitor"), name, return_state=True)
    pending = _commits_to_build(config, service_config, mirror, head)
    if not pending:
        logger.info("%s: nothing new at %s", service, head[:10])
    previous = read_service_state(config, service)
    notifier = BackgroundNotifier(config)
    reports: list[BuildReport] = []
    for index, info in enumerate(pending):
        is_newest = index == len(pending) - 1
        reports.append(
            check_and_record(
                config, service_config, mirror, info, trigger=trigger, update_state=is_newest
            )
        )
    if reports and (event := build_event(service_config, reports[-1], previous)):
        notifier.send(event)
    bisection = None
    newest_status = reports[-1].status if reports else None
    if starts_bisection(newest_status, previous, auto=service_config.bisect.auto):
        bisection = _bisect_new_failure(config, service_config, mirror, head)
    notifier.wait()
    state = register_service(config, service_config)
    publish_dashboard(config, service_config)
    return {
        "service": service,
        "head": head,
        "state": state.value,
        "builds": [report.model_dump() for report in reports],
        "bisection": bisection,
    }
