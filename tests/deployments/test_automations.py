"""Prefect's zombie-run automation: registered once (idempotently) by `register()` and
`build-monitor start`, read back from the Prefect API; flow runs emit the heartbeats it needs;
and a flow run killed with SIGKILL on a test server turns Crashed through it alone."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect import flow, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import Automation, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from build_monitor.config import load_config
from deployments.automations import (
    FINAL_STATE_EVENTS,
    HEARTBEAT_EVENT,
    ZOMBIE_AUTOMATION_NAME,
    register_zombie_automation,
    zombie_window,
)
from tests.configs import SESSION_TAG, service_table, write_config
from tests.repo_fixtures import SampleRepoFactory


def automations() -> list[Automation]:
    async def read() -> list[Automation]:
        async with get_client() as client:
            return await client.read_automations_by_name(ZOMBIE_AUTOMATION_NAME)

    return asyncio.run(read())


@pytest.mark.prefect
def test_register_creates_the_zombie_automation_once(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    from deployments.registry import register

    repo = sample_repo("good", good_commits=1)
    service = f"h3-zombie-{SESSION_TAG}"
    config = load_config(write_config(tmp_path, service_table(repo, name=service, health=False)))

    async def create_pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(
                WorkPoolCreate(name="bm-h3-zombie-pool", type="process"), overwrite=True
            )

    asyncio.run(create_pool())
    register(config, "bm-h3-zombie-pool")
    register(config, "bm-h3-zombie-pool")

    [automation] = automations()
    trigger = automation.trigger
    assert isinstance(trigger, EventTrigger)
    assert automation.enabled
    assert trigger.posture == Posture.Proactive
    assert trigger.after == {HEARTBEAT_EVENT}
    assert trigger.expect == {HEARTBEAT_EVENT, *FINAL_STATE_EVENTS}
    assert trigger.for_each == {"prefect.resource.id"}
    assert trigger.within == zombie_window() >= timedelta(seconds=540)
    related = flow_filter(trigger)
    assert related["prefect.resource.role"] == ["flow"]
    assert {"monitor", "bisect", "check-commit", "rollback"} <= set(
        related["prefect.resource.name"]
    )
    [action] = automation.actions
    assert isinstance(action, ChangeFlowRunState)
    assert action.state == StateType.CRASHED

    # Registering with other flows updates the one automation instead of adding another.
    updated_id = register_zombie_automation(["monitor"])
    [again] = automations()
    assert again.id == automation.id == updated_id
    assert isinstance(again.trigger, EventTrigger)
    assert flow_filter(again.trigger)["prefect.resource.name"] == ["monitor"]


def flow_filter(trigger: EventTrigger) -> dict[str, Any]:
    """The trigger's one `match_related` resource specification, as a dict."""
    spec = trigger.match_related
    assert isinstance(spec, ResourceSpecification)
    # The server gives a single value back as a string or a one-item list.
    return {k: [v] if isinstance(v, str) else v for k, v in spec.root.items()}


@flow(name=f"h3-heartbeat-{SESSION_TAG}")
def short_flow() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id)


def heartbeats(api_url: str, flow_run_id: str) -> list[dict[str, Any]]:
    body = {
        "filter": {
            "event": {"name": [HEARTBEAT_EVENT]},
            "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]},
            "occurred": {"since": "2000-01-01T00:00:00Z"},
        },
        "limit": 50,
    }
    response = httpx.post(f"{api_url}/events/filter", json=body, timeout=10)
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def wait_for(condition: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.mark.prefect
def test_a_flow_run_emits_heartbeats_with_its_flow_name(prefect_api_url: str) -> None:
    flow_run_id = short_flow()
    [beat, *_] = wait_for(lambda: heartbeats(prefect_api_url, flow_run_id), timeout=30)
    flows = [r for r in beat["related"] if r["prefect.resource.role"] == "flow"]
    assert [r["prefect.resource.name"] for r in flows] == [f"h3-heartbeat-{SESSION_TAG}"]


ZOMBIE_SCRIPT = """
import sys, time
from prefect import flow
from prefect.runtime import flow_run

@flow(name=sys.argv[1])
def zombie() -> None:
    print(flow_run.id, flush=True)
    time.sleep(600)

zombie()
"""


@pytest.mark.prefect
@pytest.mark.slow
def test_a_flow_run_killed_with_sigkill_is_crashed_by_the_automation(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """Nothing of build-monitor runs after the kill: only the server's automation acts."""
    flow_name = f"h3-zombie-{SESSION_TAG}"
    # The shortest heartbeat Prefect allows (30 s), and a window of two beats.
    register_zombie_automation([flow_name], within=timedelta(seconds=60))
    script = tmp_path / "zombie.py"
    script.write_text(ZOMBIE_SCRIPT)
    environment = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
    }
    process = subprocess.Popen(
        [sys.executable, str(script), flow_name],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        flow_run_id = process.stdout.readline().strip()
        assert wait_for(lambda: heartbeats(prefect_api_url, flow_run_id), timeout=30)
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()

    async def state() -> str | None:
        async with get_client() as client:
            run = await client.read_flow_run(UUID(flow_run_id))
        return run.state_type.value if run.state_type else None

    assert asyncio.run(state()) == "RUNNING"
    crashed = wait_for(lambda: asyncio.run(state()) == "CRASHED", timeout=150, interval=2)
    assert crashed, f"still {asyncio.run(state())} 150 s after the kill"
    # Leave the session's automation as registration made it for the other tests.
    register_zombie_automation(["monitor"])
