"""The monitor flow: fetch a service's branch, build the commits not yet built, set its state."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from build_monitor.config import Config, ServiceConfig, load_config
from build_monitor.errors import BuildMonitorError, GitError
from build_monitor.git.repo import CommitInfo, commit_info, is_ancestor, is_on_branch, list_commits
from build_monitor.history import bisections, crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import ServiceState
from build_monitor.history.reports import BuildReport
from flows.bisect import bisect
from flows.check import check_and_record, load_git_credentials
from flows.notifying import BackgroundNotifier, build_event
from tasks.git import fetch_repository


def commits_to_build(
    config: Config, service: ServiceConfig, mirror: Path, head: str
) -> list[CommitInfo]:
    """The commits after the newest already-built one, oldest first; only the newest unless
    `build_each_commit`, and never more than `max_commits_per_run`."""
    window = list_commits(
        mirror, since=None, until=head, limit=max(service.max_commits_per_run, 200)
    )
    with session_scope(config.database_url) as session:
        built = crud.built_commits(
            session=session, service=service.name, commits=[c.sha for c in window]
        )
    pending: list[CommitInfo] = []
    for info in reversed(window):
        if info.sha in built:
            break
        pending.append(info)
    pending.reverse()
    if not pending:
        return []
    if not service.build_each_commit:
        return pending[-1:]
    return pending[-service.max_commits_per_run :]


def bisect_bounds(
    config: Config, service: ServiceConfig, mirror: Path, head: str
) -> tuple[str, str] | None:
    """Good: the last passing build before `head`; bad: the first failing commit after it."""
    key = service.build_config_key
    with session_scope(config.database_url) as session:
        last_good = bisections.last_passing_ancestor_build(
            session=session,
            service=service.name,
            config_key=key,
            is_ancestor=lambda c: c != head and is_ancestor(mirror, c, head),
        )
        if last_good is None:
            return None
        after = [c.sha for c in list_commits(mirror, since=last_good.commit, until=head)]
        recorded = bisections.recorded_observations(
            session=session, service=service.name, config_key=key, commits=after
        )
    failed = {o.commit for _, o in recorded if o.outcome == "failed"}
    bad = next((sha for sha in after if sha in failed), head)
    return last_good.commit, bad


def _bisect_new_failure(
    config: Config, service: ServiceConfig, mirror: Path, head: str
) -> dict[str, object] | None:
    logger = get_run_logger()
    if not service.bisect.auto:
        return None
    bounds = bisect_bounds(config, service, mirror, head)
    if bounds is None:
        logger.warning(
            "%s turned red but no passing build is recorded before it: "
            "run `build-monitor bisect %s --good REF`",
            service.name,
            service.name,
        )
        return None
    good, bad = bounds
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


def _service_state(config: Config, service: str) -> ServiceState:
    with session_scope(config.database_url) as session:
        record = crud.get_service(session=session, name=service)
        return record.state if record else ServiceState.unknown


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
    mirror = fetch_repository(
        service_config, config.cache_dir, load_git_credentials(service_config)
    )
    branch_ref = f"refs/heads/{service_config.branch}"
    head = commit_info(mirror, branch_ref).sha
    if commit:
        if not is_on_branch(mirror, commit, service_config.branch):
            raise GitError(f"{commit[:12]} is not on {service_config.branch}")
        head = commit_info(mirror, commit).sha
    pending = commits_to_build(config, service_config, mirror, head)
    if not pending:
        logger.info("%s: nothing new at %s", service, head[:10])
    previous = _service_state(config, service)
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
    if reports and reports[-1].status == "failed" and previous != ServiceState.failing:
        bisection = _bisect_new_failure(config, service_config, mirror, head)
    notifier.wait()
    with session_scope(config.database_url) as session:
        crud.upsert_service(
            session=session,
            name=service_config.name,
            repo=service_config.repo,
            branch=service_config.branch,
        )
        record = crud.get_service(session=session, name=service)
        state = record.state if record else ServiceState.unknown
    return {
        "service": service,
        "head": head,
        "state": state.value,
        "builds": [report.model_dump() for report in reports],
        "bisection": bisection,
    }
