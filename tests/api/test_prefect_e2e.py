"""A signed push, through a real uvicorn server and a real Prefect server, starts exactly one run
of the monitor deployment via its event trigger; a redelivery starts none."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from sqlmodel import func, select

from build_monitor.api.background_server import running_server
from build_monitor.api.emitter import PrefectEventsEmitter
from build_monitor.api.outbox import count_unemitted
from build_monitor.history.db import session_scope
from build_monitor.history.models import WebhookDelivery
from build_monitor.webhooks.events import monitor_deployment_name, push_trigger
from tests.api.conftest import WEBHOOKS, AppFactory, make_config
from tests.webhooks.fixtures import github_headers, payload_bytes


@flow(name="monitor")
def monitor(
    service: str, commit: str | None = None, before: str | None = None, trigger: str = "poll"
) -> None:
    """Stand-in with the real monitor flow's signature; it never runs here (no worker)."""


async def deploy_monitor() -> UUID:
    deployment = await monitor.ato_deployment(
        name="monitor-webhook-e2e",
        triggers=[DeploymentEventTrigger(**push_trigger(name)) for name in ("hello", "diaspora")],
    )
    deployment_id: UUID = await deployment.aapply()
    return deployment_id


async def monitor_runs(deployment_id: UUID) -> list[dict[str, object]]:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    return [run.parameters for run in runs]


def wait_for_runs(
    deployment_id: UUID, count: int, timeout: float = 30.0
) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while True:
        runs = asyncio.run(monitor_runs(deployment_id))
        if len(runs) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.25)


@pytest.mark.prefect
@pytest.mark.slow
def test_signed_push_creates_exactly_one_monitor_run(
    prefect_api_url: str, tmp_path: Path, app_factory: AppFactory
) -> None:
    deployment_id = asyncio.run(deploy_monitor())
    emitter = PrefectEventsEmitter(prefect_api_url)
    app = app_factory(config=make_config(tmp_path), emitter=emitter)
    body = payload_bytes("github-push.json")
    with running_server(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        assert http.get("/api/health").json()["prefect"]["ok"] is True
        accepted = http.post("/api/webhooks/github", content=body, headers=github_headers(body))
        assert accepted.status_code == 202, accepted.text
        runs = wait_for_runs(deployment_id, 1)
        redelivered = http.post("/api/webhooks/github", content=body, headers=github_headers(body))
        assert redelivered.status_code == 200
        assert redelivered.json()["outcome"] == "duplicate"
        time.sleep(3)
        runs_later = asyncio.run(monitor_runs(deployment_id))
    assert runs == [
        {
            "service": "hello",
            "commit": "1481a2de7b2a7d02428ad93446ab166be7793fbb",
            "before": "17c497ccc7cca9c2f735aa07e9e3813060ce9a6a",
            "trigger": "webhook",
        }
    ]
    assert runs_later == runs


@pytest.mark.prefect
@pytest.mark.slow
def test_reemitted_event_does_not_start_a_second_run(prefect_api_url: str) -> None:
    """The event id is derived from the delivery: if the relay re-sends an event the server
    already got (its acknowledgement was lost), Prefect's triggers skip it."""
    from datetime import UTC, datetime

    from build_monitor.webhooks.events import push_event
    from build_monitor.webhooks.payloads import parse_gitlab_push
    from tests.webhooks.fixtures import payload

    deployment_id = asyncio.run(deploy_monitor())
    before = len(asyncio.run(monitor_runs(deployment_id)))
    push = parse_gitlab_push(payload("gitlab-push.json"))
    event = push_event(
        push, service="diaspora", delivery_id="lost-ack-1", occurred=datetime.now(UTC)
    )

    async def emit_twice() -> None:
        emitter = PrefectEventsEmitter(prefect_api_url)
        await emitter.emit([event])
        await emitter.emit([event])
        await emitter.aclose()

    asyncio.run(emit_twice())
    runs = wait_for_runs(deployment_id, before + 1)
    time.sleep(3)
    runs_later = asyncio.run(monitor_runs(deployment_id))
    assert len(runs) == len(runs_later) == before + 1
    assert [r for r in runs_later if r["service"] == "diaspora"] == [
        {
            "service": "diaspora",
            "commit": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
            "trigger": "webhook",
        }
    ]


async def deploy_service_monitor(service: str) -> UUID:
    deployment = await monitor.ato_deployment(
        name=monitor_deployment_name(service),
        triggers=[DeploymentEventTrigger(**push_trigger(service))],
    )
    deployment_id: UUID = await deployment.aapply()
    return deployment_id


async def start_running(deployment_id: UUID) -> None:
    """What a worker does when it picks the waiting run up."""
    from prefect.states import Running

    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
        for run in runs:
            await client.set_flow_run_state(run.id, Running(), force=True)


async def describe_runs(deployment_id: UUID) -> list[str]:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    return [
        f"{run.state_name} created {run.created} expected {run.expected_start_time}" for run in runs
    ]


def send_burst(http: httpx.Client, body: bytes, prefix: str, count: int) -> None:
    for index in range(count):
        headers = github_headers(body, delivery=f"{prefix}-{index}")
        reply = http.post("/api/webhooks/github", content=body, headers=headers)
        assert reply.status_code == 202, reply.text


def wait_until_relayed(database_url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while count_unemitted(database_url) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert count_unemitted(database_url) == 0, "deliveries left unrelayed"
    time.sleep(3)  # the trigger's action creates runs a moment after the event


@pytest.mark.prefect
@pytest.mark.slow
def test_a_burst_of_pushes_coalesces_into_one_waiting_run(
    prefect_api_url: str, tmp_path: Path, app_factory: AppFactory
) -> None:
    deployment_id = asyncio.run(deploy_service_monitor("hello"))
    config = make_config(tmp_path)
    app = app_factory(
        config=config,
        emitter=PrefectEventsEmitter(prefect_api_url),
        webhooks=WEBHOOKS.model_copy(update={"redeliver_interval_seconds": 1.0}),
    )
    body = payload_bytes("github-push.json")
    with running_server(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        send_burst(http, body, "burst", 40)
        wait_until_relayed(config.database_url)
        first = asyncio.run(monitor_runs(deployment_id))
        asyncio.run(start_running(deployment_id))
        send_burst(http, body, "while-running", 20)
        wait_until_relayed(config.database_url)
        second = asyncio.run(monitor_runs(deployment_id))
    assert len(first) == 1, first
    assert len(second) == 2, asyncio.run(describe_runs(deployment_id))  # running + waiting
    with session_scope(config.database_url) as session:
        assert session.exec(select(func.count()).select_from(WebhookDelivery)).one() == 60
