"""`build-monitor start`: the whole system on one machine — a Prefect API (the configured one,
or a local server started and supervised here), the deployments served by a Prefect runner,
and the REST/webhook API — stopped cleanly on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from build_monitor.config import Config
from build_monitor.errors import BuildMonitorError
from build_monitor.prefect_runtime import (
    PrefectApiChoice,
    choose_prefect_api,
    stop_local_server,
    ui_url,
    using_prefect_api,
)

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

Log = Callable[[str], None]


async def serve_until_stopped(
    config: Config, api: PrefectApiChoice, deployments: list[RunnerDeployment], log: Log
) -> None:
    """Serve deployments and the API until SIGINT/SIGTERM, then stop both."""
    from prefect.runner import Runner

    from build_monitor.api.app import create_app
    from build_monitor.api.background_server import running_server
    from build_monitor.api.rollback import start_rollback_via_prefect
    from build_monitor.history.dashboard import DASHBOARD_SOURCES

    runner = Runner(name="build-monitor", limit=None)
    for deployment in deployments:
        await runner.aadd_deployment(deployment)
    app = create_app(
        config,
        start_rollback=start_rollback_via_prefect,
        dashboard_sources=DASHBOARD_SOURCES,
        ui_url=ui_url(api.url),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    host, port = config.server.host, config.server.port
    with running_server(app, host=host, port=port, log_level=config.server.log_level.lower()):
        log(f"API and webhooks on http://{host}:{port} (OpenAPI: /openapi.json)")
        log(f"Prefect UI (the dashboard): {ui_url(api.url)}")
        log(f"serving {len(deployments)} deployments: {', '.join(d.name for d in deployments)}")
        runner_task = asyncio.create_task(runner.start(webserver=False))
        stop_task = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        log("stopping")
        if runner_task not in done:
            with suppress(Exception):
                await runner.astop()
            with suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(runner_task, timeout=30)
        stop_task.cancel()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)


def recover_live_containers(config: Config, log: Log) -> None:
    """Undo rollbacks a killed process left half done, so every service has its live container."""
    from tasks.rollback import recover_all_services

    try:
        recovered = recover_all_services(config)
    except BuildMonitorError as exc:
        log(f"warning: could not recover interrupted rollbacks: {exc}")
        return
    for item in recovered:
        log(f"{item.service}: recovered interrupted rollback {item.rollback_id}")


def recover_bisections(config: Config, api_url: str | None) -> list[dict[str, Any]]:
    """Bisections whose process died become `interrupted`, and the flow runs they left Running
    get Prefect's Crashed state (when a Prefect API is known: else the next recovery does it).
    Returns what changed now."""
    from tasks.flow_runs import recover_interrupted_bisections

    if api_url is None:
        recovered = recover_interrupted_bisections(config, crash=False)
    else:
        with using_prefect_api(api_url):
            recovered = recover_interrupted_bisections(config)
    return [
        dataclasses.asdict(item) for item in recovered if item.marked_now or item.crashed_flow_runs
    ]


def describe_recovered_bisection(item: dict[str, Any]) -> str:
    crashed = item["crashed_flow_runs"]
    runs = f"; {crashed} flow run{'s' if crashed != 1 else ''} marked Crashed" if crashed else ""
    return (
        f"{item['service']}: bisection #{item['bisection_id']} was interrupted "
        f"(its process died){runs}"
    )


def register_automations(deployments: list[RunnerDeployment], log: Log) -> None:
    """Prefect's zombie-run automation for these deployments' flows (deployments/automations.py):
    a flow run whose heartbeats stop on any host becomes Crashed."""
    from deployments.automations import register_zombie_automation

    try:
        register_zombie_automation(d.flow_name for d in deployments if d.flow_name)
    except Exception as exc:  # serving goes on; only the cross-host crash detection is missing
        log(f"warning: could not register the zombie flow run automation: {exc}")


def run_system(config: Config, log: Log) -> None:
    from deployments.registry import served_deployments

    deployments = served_deployments(config)  # built outside the event loop: sync API
    api = choose_prefect_api(log)
    log(f"Prefect API: {api.url}{' (started here)' if api.started_here else ''}")
    try:
        with using_prefect_api(api.url):
            recover_live_containers(config, log)
            for item in recover_bisections(config, api.url):
                log(describe_recovered_bisection(item))
            register_automations(deployments, log)
            asyncio.run(serve_until_stopped(config, api, deployments, log))
    finally:
        if api.started_here:
            stop_local_server()
            log("stopped the local Prefect server")
