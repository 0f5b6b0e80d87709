"""Deployments from config.toml: a polling monitor per service, and one that really runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
from prefect.runner import Runner

from build_monitor.config import load_config
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build
from deployments.monitor import all_deployments
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory

PROJECT = Path(__file__).resolve().parents[2]


def test_one_polling_deployment_per_service(sample_repo: SampleRepoFactory, tmp_path: Path) -> None:
    first, second = sample_repo("good"), sample_repo("good")
    config = load_config(
        write_config(
            tmp_path,
            service_table(first, name="alpha", health=False),
            service_table(second, name="beta", health=False, poll_interval_seconds=300),
        )
    )
    deployments = {d.name: d for d in all_deployments(config)}
    assert set(deployments) == {"monitor-alpha", "monitor-beta", "check-commit"}
    alpha = deployments["monitor-alpha"]
    assert alpha.parameters == {"service": "alpha", "config_path": str(config.source)}
    intervals = [s.schedule.interval.total_seconds() for s in alpha.schedules]  # type: ignore[union-attr]
    assert intervals == [60.0]
    beta_schedule = deployments["monitor-beta"].schedules[0].schedule
    assert beta_schedule.interval.total_seconds() == 300.0  # type: ignore[union-attr]


@pytest.mark.prefect
def test_a_served_monitor_deployment_runs_and_records_a_build(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("good", good_commits=1)
    path = write_config(tmp_path, service_table(repo, name="served", builder="local", health=False))
    config = load_config(path)
    monitor_deployment = next(d for d in all_deployments(config) if d.name == "monitor-served")

    async def scenario() -> str:
        runner = Runner(name=f"test-runner-{tmp_path.name}", limit=1)
        await runner.aadd_deployment(monitor_deployment)
        flow_run = await run_deployment(  # type: ignore[misc]
            "monitor/monitor-served", timeout=0, parameters={"trigger": "test"}
        )
        await runner.start(run_once=True)
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
            )
        return str(runs[0].state_type.value) if runs[0].state_type else "?"

    assert asyncio.run(scenario()) == "COMPLETED"
    with session_scope(config.database_url) as session:
        builds = session.query(Build).all()
    assert [(b.commit, b.status.value, b.trigger) for b in builds] == [
        (repo.commits[-1], "passed", "test")
    ]


def test_prefect_yaml_entrypoints_are_flows() -> None:
    """Every deployment in prefect.yaml points at a real flow with the parameters it sets."""
    import importlib

    from prefect import Flow

    document = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    assert document["deployments"], "prefect.yaml declares no deployments"
    for deployment in document["deployments"]:
        module_path, function = deployment["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, function)
        assert isinstance(flow, Flow), deployment["name"]
        accepted = set(flow.parameters.properties)
        assert set(deployment.get("parameters") or {}) <= accepted, deployment["name"]


@pytest.mark.prefect
def test_register_with_a_work_pool(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    """For many hosts: every deployment lands in the pool, runnable from the project dir."""
    from prefect.client.schemas.actions import WorkPoolCreate

    from deployments.registry import PROJECT_DIR, register

    repo = sample_repo("good", good_commits=1)
    config = load_config(write_config(tmp_path, service_table(repo, name="pooled", health=False)))

    async def create_pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(
                WorkPoolCreate(name="bm-test-pool", type="process"), overwrite=True
            )

    asyncio.run(create_pool())
    ids = register(config, "bm-test-pool")

    async def read() -> list[tuple[str, str | None, str | None, str | None]]:
        async with get_client() as client:
            found = [await client.read_deployment(i) for i in ids]
        return [(d.name, d.work_pool_name, d.entrypoint, _working_directory(d)) for d in found]

    deployments = {name: rest for name, *rest in asyncio.run(read())}
    assert set(deployments) == {
        "monitor-pooled",
        "check-commit",
        "bisect",
        "bisect-probe",
        "rollback",
        "emergency-rollback",
        "deploy",
    }
    assert all(pool == "bm-test-pool" for pool, _, _ in deployments.values())
    assert deployments["bisect-probe"][1:] == ["flows/probe.py:bisect_probe", str(PROJECT_DIR)]
    pool, entrypoint, path = deployments["monitor-pooled"]
    assert (pool, entrypoint, path) == (
        "bm-test-pool",
        "flows/monitor.py:monitor",
        str(PROJECT_DIR),
    )


@pytest.mark.prefect
def test_register_creates_the_one_per_service_limits(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    """One bisection and one rollback per service: active global limits of one slot."""
    from prefect.client.schemas.actions import WorkPoolCreate

    from deployments.registry import register

    repo = sample_repo("good", good_commits=1)
    config = load_config(
        write_config(tmp_path, service_table(repo, name="limited-h7", health=False))
    )

    async def create_pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(
                WorkPoolCreate(name="bm-test-pool-h7", type="process"), overwrite=True
            )

    asyncio.run(create_pool())
    register(config, "bm-test-pool-h7")

    async def limits() -> dict[str, tuple[int, bool]]:
        async with get_client() as client:
            found = await client.read_global_concurrency_limits(limit=200)
        return {limit.name: (limit.limit, limit.active) for limit in found}

    found = asyncio.run(limits())
    assert found["bisect-limited-h7"] == (1, True)
    assert found["rollback-limited-h7"] == (1, True)


def test_the_probe_deployment_is_the_one_bisections_run() -> None:
    from deployments.probe import probe_deployment
    from flows.probe import PROBE_FLOW_NAME
    from tasks.probe_runs import PROBE_DEPLOYMENT

    assert f"{PROBE_FLOW_NAME}/{probe_deployment().name}" == PROBE_DEPLOYMENT


def _working_directory(deployment: Any) -> str | None:
    """Where a process worker runs the entrypoint: the deployment's path or its pull step."""
    for step in deployment.pull_steps or []:
        if "prefect.deployments.steps.set_working_directory" in step:
            return str(step["prefect.deployments.steps.set_working_directory"]["directory"])
    return deployment.path
