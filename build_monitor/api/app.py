"""The FastAPI app factory: webhooks, REST API, health and the redirect to the Prefect UI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import text

from build_monitor.api import service_routes, webhook_routes
from build_monitor.api.config import ApiConfig
from build_monitor.api.context import AppContext, DashboardSource
from build_monitor.api.emitter import EventEmitter, PrefectEventsEmitter
from build_monitor.api.outbox import OutboxRelay, count_unemitted
from build_monitor.api.rollback import StartRollback, rollback_not_available
from build_monitor.api.schemas import ComponentHealth, HealthReport
from build_monitor.api.secrets import CachingSecretResolver, SecretResolver
from build_monitor.config import Config
from build_monitor.errors import BuildMonitorError
from build_monitor.history.db import get_engine, session_scope
from build_monitor.webhooks.config import ServiceWebhooksConfig, WebhooksConfig

logger = logging.getLogger("build_monitor.api")
PREFECT_CHECK_TIMEOUT_SECONDS = 3.0


def create_app(
    config: Config,
    *,
    emitter: EventEmitter | None = None,
    start_rollback: StartRollback | None = None,
    secret_resolver: SecretResolver | None = None,
    webhooks: WebhooksConfig | None = None,
    api: ApiConfig | None = None,
    service_webhooks: Mapping[str, ServiceWebhooksConfig] | None = None,
    dashboard_sources: Mapping[str, DashboardSource] | None = None,
    ui_url: str | None = None,
) -> FastAPI:
    """Build the app. `webhooks`, `api` and `service_webhooks` default to `config.webhooks`,
    `config.api` and each `service.webhooks` once those exist in Config; `emitter` defaults to
    the Prefect API of PREFECT_API_URL; `start_rollback` defaults to "rollback not available"."""
    webhooks = webhooks or getattr(config, "webhooks", None) or WebhooksConfig()
    api = api or getattr(config, "api", None) or ApiConfig()
    if service_webhooks is None:
        service_webhooks = _service_overrides(config)
    emitter = emitter or PrefectEventsEmitter(timeout_seconds=webhooks.emit_timeout_seconds)
    relay = OutboxRelay(
        config.database_url,
        emitter,
        sweep_interval_seconds=webhooks.redeliver_interval_seconds,
        emit_timeout_seconds=webhooks.emit_timeout_seconds,
    )
    ctx = AppContext(
        config=config,
        webhooks=webhooks,
        api=api,
        service_webhooks=service_webhooks,
        emitter=emitter,
        relay=relay,
        resolve_secret=secret_resolver
        or CachingSecretResolver(ttl_seconds=webhooks.secret_cache_seconds),
        start_rollback=start_rollback or rollback_not_available,
        dashboard_sources=dashboard_sources or {},
        ui_url=ui_url or config.server.public_ui_url or _prefect_ui_url(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _open_database(config.database_url)
        await relay.start()
        try:
            yield
        finally:
            await relay.stop()
            await emitter.aclose()

    app = FastAPI(
        title="build-monitor",
        summary="Push webhooks and REST API of build-monitor",
        version="1",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.include_router(webhook_routes.router)
    app.include_router(service_routes.router)
    app.add_api_route(
        "/api/health",
        health,
        methods=["GET"],
        response_model=HealthReport,
        tags=["health"],
        responses={503: {"model": HealthReport}},
    )
    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    return app


async def _open_database(database_url: str) -> None:
    """Create the engine and schema once, before requests and the relay use it concurrently."""
    try:
        await anyio.to_thread.run_sync(lambda: get_engine(database_url))
    except (BuildMonitorError, OSError) as exc:
        logger.error("%s (webhooks will answer 503 until it is reachable)", exc)


async def health(request: Request) -> JSONResponse:
    """This service, its history database and the Prefect API. Always public. 200 unless the
    database is unusable (503); Prefect being unreachable only makes the status `degraded`,
    since accepted webhooks are kept and relayed later."""
    ctx: AppContext = request.app.state.ctx

    def probe_database() -> int:
        with session_scope(ctx.database_url) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return count_unemitted(ctx.database_url)

    pending: int | None = None
    try:
        pending = await anyio.to_thread.run_sync(probe_database)
        database = ComponentHealth(ok=True, detail="reachable")
    except Exception as exc:
        database = ComponentHealth(ok=False, detail=f"unavailable: {type(exc).__name__}")
    problem: str | None = f"timed out after {PREFECT_CHECK_TIMEOUT_SECONDS:g}s"
    with anyio.move_on_after(PREFECT_CHECK_TIMEOUT_SECONDS):
        try:
            problem = await ctx.emitter.check()
        except Exception as exc:
            problem = f"check failed: {type(exc).__name__}"
    prefect = ComponentHealth(ok=problem is None, detail=problem or "reachable")
    report = HealthReport(
        status="failing" if not database.ok else "ok" if prefect.ok else "degraded",
        service=ComponentHealth(ok=True, detail="running"),
        database=database,
        prefect=prefect,
        pending_deliveries=pending,
    )
    return JSONResponse(status_code=200 if database.ok else 503, content=report.model_dump())


async def root(request: Request) -> RedirectResponse:
    ctx: AppContext = request.app.state.ctx
    return RedirectResponse(ctx.ui_url or "/docs", status_code=307)


def _service_overrides(config: Config) -> dict[str, ServiceWebhooksConfig]:
    overrides: dict[str, ServiceWebhooksConfig] = {}
    for service in config.services:
        override: Any = getattr(service, "webhooks", None)
        if isinstance(override, ServiceWebhooksConfig):
            overrides[service.name] = override
    return overrides


def _prefect_ui_url() -> str | None:
    try:
        from prefect.settings import get_current_settings

        value: Any = get_current_settings().ui_url
    except Exception:
        return None
    return str(value) if value else None
