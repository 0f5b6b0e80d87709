"""Read endpoints (services, builds, dashboard) and the rollback request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from build_monitor.api.auth import authorize, bearer_scheme
from build_monitor.api.context import AppContext
from build_monitor.api.rollback import RollbackUnavailable
from build_monitor.api.schemas import (
    BuildPage,
    Dashboard,
    ErrorReply,
    RollbackAccepted,
    RollbackRequest,
    ServiceDetail,
    ServiceSummary,
)
from build_monitor.config import ServiceConfig
from build_monitor.errors import BuildMonitorError, InvalidInputError
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.metrics import dashboard_metrics
from build_monitor.history.models import BuildPublic, ServiceState
from build_monitor.rollback.plan import redeploy_problem
from build_monitor.validation import SERVICE_NAME_PATTERN

T = TypeVar("T")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
ServiceName = Annotated[str, Path(pattern=SERVICE_NAME_PATTERN.pattern, max_length=63)]
MAX_PAGE = 200
_AUTH: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorReply, "description": "missing or invalid bearer token"},
    503: {"model": ErrorReply, "description": "the history database is unavailable"},
}
_SERVICE: dict[int | str, dict[str, object]] = {
    **_AUTH,
    404: {"model": ErrorReply, "description": "unknown service"},
}


async def read_access(request: Request, credentials: Credentials) -> None:
    await authorize(request, credentials, write=False)


async def write_access(request: Request, credentials: Credentials) -> None:
    await authorize(request, credentials, write=True)


router = APIRouter(prefix="/api", tags=["services"])


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _configured(ctx: AppContext, name: str) -> ServiceConfig:
    for service in ctx.config.services:
        if service.name == name:
            return service
    raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=f"unknown service {name!r}")


def _summary(session: Session, service: ServiceConfig) -> ServiceSummary:
    record = crud.get_service(session=session, name=service.name)
    last = crud.latest_build(session=session, service=service.name)
    return ServiceSummary(
        name=service.name,
        repo=service.repo,
        branch=service.branch,
        builder=service.builder,
        state=record.state if record else ServiceState.unknown,
        updated_at=record.updated_at if record else None,
        last_build=BuildPublic.model_validate(last, from_attributes=True) if last else None,
    )


async def _in_session(ctx: AppContext, work: Callable[[Session], T]) -> T:
    def run() -> T:
        with session_scope(ctx.database_url) as session:
            return work(session)

    try:
        return await anyio.to_thread.run_sync(run)
    except (SQLAlchemyError, BuildMonitorError, OSError) as exc:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"history database unavailable: {type(exc).__name__}",
        ) from None


@router.get(
    "/dashboard", response_model=Dashboard, responses=_AUTH, dependencies=[Depends(read_access)]
)
async def dashboard(request: Request) -> Dashboard:
    """All services with their state and last build, plus the running bisections and rollbacks
    and recent culprits (empty until those features are deployed)."""
    ctx = _ctx(request)

    def collect(session: Session) -> Dashboard:
        sections = {key: source(session) for key, source in ctx.dashboard_sources.items()}
        services = [_summary(session, s) for s in ctx.config.services]
        metrics = dashboard_metrics(
            session=session, services=[s.name for s in ctx.config.services], now=datetime.now(UTC)
        )
        return Dashboard(services=services, metrics=metrics, **sections)

    return await _in_session(ctx, collect)


@router.get(
    "/services",
    response_model=list[ServiceSummary],
    responses=_AUTH,
    dependencies=[Depends(read_access)],
)
async def list_services(request: Request) -> list[ServiceSummary]:
    ctx = _ctx(request)
    return await _in_session(
        ctx, lambda session: [_summary(session, s) for s in ctx.config.services]
    )


@router.get(
    "/services/{name}",
    response_model=ServiceDetail,
    responses=_SERVICE,
    dependencies=[Depends(read_access)],
)
async def get_service(request: Request, name: ServiceName) -> ServiceDetail:
    ctx = _ctx(request)
    service = _configured(ctx, name)
    summary = await _in_session(ctx, lambda session: _summary(session, service))
    override = ctx.service_webhooks.get(name)
    return ServiceDetail(
        **summary.model_dump(),
        poll_interval_seconds=service.poll_interval_seconds,
        build_each_commit=service.build_each_commit,
        health_check=service.health is not None,
        webhook_secrets={
            "github": bool((override and override.github_secret) or ctx.webhooks.github_secret),
            "gitlab": bool((override and override.gitlab_token) or ctx.webhooks.gitlab_token),
        },
    )


@router.get(
    "/services/{name}/builds",
    response_model=BuildPage,
    responses=_SERVICE,
    dependencies=[Depends(read_access)],
)
async def list_builds(
    request: Request,
    name: ServiceName,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> BuildPage:
    """Builds of one service, newest first."""
    ctx = _ctx(request)
    _configured(ctx, name)

    def page(session: Session) -> BuildPage:
        builds = crud.list_builds(session=session, service=name, limit=limit, offset=offset)
        return BuildPage(
            service=name,
            limit=limit,
            offset=offset,
            builds=[BuildPublic.model_validate(b, from_attributes=True) for b in builds],
        )

    return await _in_session(ctx, page)


@router.post(
    "/services/{name}/rollback",
    response_model=RollbackAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_SERVICE, 503: {"model": ErrorReply, "description": "rollback not available"}},
    dependencies=[Depends(write_access)],
)
async def request_rollback(
    request: Request, name: ServiceName, body: RollbackRequest
) -> RollbackAccepted:
    """Start a rollback to `commit`, or without a commit an emergency rollback to the last
    passing build. Needs the API token."""
    ctx = _ctx(request)
    service = _configured(ctx, name)
    strategy = "redeploy" if body.commit is None else service.rollback.strategy
    problem = redeploy_problem(service) if strategy in ("redeploy", "both") else None
    if problem:
        raise HTTPException(status_code=422, detail=problem)
    try:
        started = await ctx.start_rollback(name, body.commit, body.reason)
    except RollbackUnavailable as exc:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)
        ) from None
    except InvalidInputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return RollbackAccepted(
        service=name,
        commit=body.commit,
        emergency=body.commit is None,
        flow_run_id=started.flow_run_id,
        message=started.message,
    )
