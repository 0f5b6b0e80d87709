"""Every deployment: served in-process by `build-monitor start`, or registered with a work pool
(`python -m deployments.registry --work-pool P`) so workers on other hosts run them."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.runner.storage import LocalStorage

from build_monitor.config import Config, load_config
from build_monitor.rollback.plan import concurrency_limit_name
from build_monitor.webhooks.events import push_trigger
from deployments.automations import register_zombie_automation
from deployments.bisect import bisect_deployment
from deployments.monitor import check_deployment, monitor_deployment
from deployments.probe import probe_deployment
from deployments.rollback import rollback_deployments
from tasks.limits import bisect_limit_name, ensure_global_limit

PROJECT_DIR = Path(__file__).resolve().parent.parent


def served_deployments(config: Config) -> list[RunnerDeployment]:
    if config.source is None:
        raise ValueError("build-monitor start needs a config file")
    config_path = str(config.source.resolve())
    deployments = []
    for service in config.services:
        deployment = monitor_deployment(service, config_path)
        deployment.triggers = [DeploymentEventTrigger(**push_trigger(service.name))]
        deployments.append(deployment)
    deployments.append(check_deployment(config_path))
    deployments.append(bisect_deployment(config_path))
    deployments.append(probe_deployment())
    deployments.extend(rollback_deployments(config_path, [s.name for s in config.services]))
    return deployments


def register(config: Config, work_pool: str) -> list[str]:
    """Register every deployment with a work pool. Workers run the code from this project
    directory, so every worker host needs the project at the same path (and the config file).
    Returns the deployment ids."""
    previous = Path.cwd()
    os.chdir(PROJECT_DIR)  # entrypoints are recorded relative to the working directory
    try:
        deployments = served_deployments(config)
    finally:
        os.chdir(previous)
    # One bisection and one rollback per service at a time: created now, so they show in the
    # UI before the first run (the flows create them too). Build slots are per worker host:
    # each host's first probe creates `build-slots-<host>` (tasks/limits.py).
    for service in config.services:
        ensure_global_limit(bisect_limit_name(service.name), 1)
        ensure_global_limit(concurrency_limit_name(service.name), 1)
    ids = []
    for deployment in deployments:
        # A process worker runs the entrypoint from here: a `set_working_directory` pull step.
        deployment.storage = LocalStorage(str(PROJECT_DIR))
        ids.append(str(deployment.apply(work_pool_name=work_pool)))
    register_zombie_automation(d.flow_name for d in deployments if d.flow_name)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description="Register build-monitor's deployments.")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--work-pool", required=True)
    args = parser.parse_args()
    for deployment_id in register(load_config(args.config), args.work_pool):
        print(deployment_id)


if __name__ == "__main__":
    main()
