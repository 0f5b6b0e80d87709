"""The check-commit flow: build, test and health-check one commit, and record the result."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from build_monitor.config import load_config
from tasks.artifacts import publish_dashboard
from tasks.blocks import load_git_credentials
from tasks.check import check_and_record
from tasks.git import fetch_repository, resolve_commit_info
from tasks.run_labels import label_flow_run, run_tags


def _check_run_name() -> str:
    parameters = flow_run.get_parameters()
    commit = parameters.get("commit") or "head"
    return f"check {parameters.get('service')} {str(commit)[:12]}"


@flow(name="check-commit", flow_run_name=_check_run_name, validate_parameters=True)
def check_commit(
    service: str,
    commit: str | None = None,
    trigger: str = "check",
    config_path: str | None = None,
) -> dict[str, object]:
    """Build, test and health-check one commit of a service (default: the branch head)."""
    config = load_config(Path(config_path) if config_path else None)
    service_config = config.service(service)
    mirror = fetch_repository(
        service_config, config.cache_dir, load_git_credentials(service_config)
    )
    info = resolve_commit_info(mirror, commit or f"refs/heads/{service_config.branch}")
    label_flow_run(run_tags(service, "check"), f"check {service} {info.sha[:7]}", return_state=True)
    report = check_and_record(config, service_config, mirror, info, trigger=trigger)
    publish_dashboard(config, service_config)
    return report.model_dump()
