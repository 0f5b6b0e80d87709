from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from build_monitor.api.config import ApiConfig
from build_monitor.api.rollback import RollbackStarted
from build_monitor.config import Config
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import BuildCreate, BuildStatus, ServiceState, utcnow
from tests.api.conftest import API_TOKEN, AppFactory, CountingEmitter

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def record_builds(config: Config, count: int) -> None:
    with session_scope(config.database_url) as session:
        crud.upsert_service(session=session, name="hello", repo="r", branch="master")
        last_id = None
        for index in range(count):
            build = crud.start_build(
                session=session,
                build_in=BuildCreate(service="hello", commit=f"{index:040x}", subject=f"c{index}"),
            )
            build.started_at = utcnow() + timedelta(seconds=index)
            status = BuildStatus.failed if index == count - 1 else BuildStatus.passed
            crud.finish_build(
                session=session,
                build_id=build.id or 0,
                status=status,
                stage=None,
                signature=None,
                log_excerpt=None,
                image=None,
                attempts=1,
            )
            last_id = build.id
        crud.set_service_state(
            session=session, name="hello", state=ServiceState.failing, last_build_id=last_id
        )


async def open_client(app_factory: AppFactory, **overrides: object) -> httpx.AsyncClient:
    app = app_factory(**overrides)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_reads_need_the_token_by_default(client: httpx.AsyncClient) -> None:
    for path in ("/api/services", "/api/dashboard", "/api/services/hello"):
        denied = await client.get(path)
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"] == "Bearer"
        wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert (await client.get(path, headers=AUTH)).status_code == 200


async def test_public_read_opens_gets_but_not_rollback(app_factory: AppFactory) -> None:
    from build_monitor.webhooks.config import SecretRef

    api = ApiConfig(token=SecretRef(env="BUILD_MONITOR_API_TOKEN"), public_read=True)
    async with await open_client(app_factory, api=api) as http:
        assert (await http.get("/api/services")).status_code == 200
        rollback = await http.post("/api/services/hello/rollback", json={"reason": "broken"})
        assert rollback.status_code == 401


async def test_without_a_configured_token_everything_but_public_reads_is_refused(
    app_factory: AppFactory,
) -> None:
    async with await open_client(app_factory, api=ApiConfig()) as http:
        response = await http.get("/api/services", headers=AUTH)
        assert response.status_code == 401
        assert "no API token is configured" in response.json()["detail"]
        health = await http.get("/api/health")
        assert health.status_code == 200


async def test_dashboard_and_services_show_state_and_last_build(
    client: httpx.AsyncClient, config: Config
) -> None:
    record_builds(config, 3)
    dashboard = (await client.get("/api/dashboard", headers=AUTH)).json()
    by_name = {s["name"]: s for s in dashboard["services"]}
    assert by_name["hello"]["state"] == "failing"
    assert by_name["hello"]["last_build"]["status"] == "failed"
    assert by_name["diaspora"]["state"] == "unknown" and by_name["diaspora"]["last_build"] is None
    assert dashboard["running_bisections"] == dashboard["running_rollbacks"] == []
    assert dashboard["recent_culprits"] == []
    detail = (await client.get("/api/services/hello", headers=AUTH)).json()
    assert detail["webhook_secrets"] == {"github": True, "gitlab": True}


async def test_dashboard_sections_are_pluggable(app_factory: AppFactory) -> None:
    sources = {"recent_culprits": lambda session: [{"service": "hello", "commit": "abc"}]}
    async with await open_client(app_factory, dashboard_sources=sources) as http:
        dashboard = (await http.get("/api/dashboard", headers=AUTH)).json()
    assert dashboard["recent_culprits"] == [{"service": "hello", "commit": "abc"}]


async def test_builds_are_paginated_newest_first(client: httpx.AsyncClient, config: Config) -> None:
    record_builds(config, 5)
    first = (await client.get("/api/services/hello/builds?limit=2", headers=AUTH)).json()
    second = (await client.get("/api/services/hello/builds?limit=2&offset=2", headers=AUTH)).json()
    assert [b["subject"] for b in first["builds"]] == ["c4", "c3"]
    assert [b["subject"] for b in second["builds"]] == ["c2", "c1"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/services/nope", 404),
        ("/api/services/nope/builds", 404),
        ("/api/services/Bad_Name", 422),
        ("/api/services/hello/builds?limit=0", 422),
        ("/api/services/hello/builds?limit=201", 422),
        ("/api/services/hello/builds?offset=-1", 422),
        ("/api/services/hello/builds?limit=ten", 422),
    ],
)
async def test_bad_reads(client: httpx.AsyncClient, path: str, status: int) -> None:
    assert (await client.get(path, headers=AUTH)).status_code == status


async def test_rollback_is_not_available_until_wired(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/services/hello/rollback", json={"commit": "abc123", "reason": "bad"}, headers=AUTH
    )
    assert response.status_code == 503
    assert "rollback not available" in response.json()["detail"]


async def test_rollback_validates_before_starting(app_factory: AppFactory) -> None:
    calls: list[tuple[str, str | None, str]] = []

    async def start(service: str, commit: str | None, reason: str) -> RollbackStarted:
        calls.append((service, commit, reason))
        return RollbackStarted(flow_run_id="run-1", message="rollback started")

    async with await open_client(app_factory, start_rollback=start) as http:
        url = "/api/services/hello/rollback"
        unauthenticated = await http.post(url, json={"reason": "x"})
        bad_commit = await http.post(url, json={"commit": "--help", "reason": "x"}, headers=AUTH)
        no_reason = await http.post(url, json={"commit": "abc"}, headers=AUTH)
        extra = await http.post(url, json={"reason": "x", "force": True}, headers=AUTH)
        unknown = await http.post("/api/services/nope/rollback", json={"reason": "x"}, headers=AUTH)
        emergency = await http.post(url, json={"reason": " prod down "}, headers=AUTH)
        targeted = await http.post(url, json={"commit": "abc123", "reason": "bad"}, headers=AUTH)
    assert unauthenticated.status_code == 401
    assert (bad_commit.status_code, no_reason.status_code, extra.status_code) == (422, 422, 422)
    assert unknown.status_code == 404
    assert emergency.status_code == 202 and emergency.json()["emergency"] is True
    assert targeted.json() == {
        "service": "hello",
        "commit": "abc123",
        "emergency": False,
        "flow_run_id": "run-1",
        "message": "rollback started",
    }
    assert calls == [("hello", None, "prod down"), ("hello", "abc123", "bad")]


async def test_a_rollback_the_service_cannot_do_is_refused_before_it_starts(
    app_factory: AppFactory,
) -> None:
    calls: list[str] = []

    async def start(service: str, commit: str | None, reason: str) -> RollbackStarted:
        calls.append(service)
        return RollbackStarted(flow_run_id="run-1", message="rollback started")

    async with await open_client(app_factory, start_rollback=start) as http:
        url = "/api/services/diaspora/rollback"
        emergency = await http.post(url, json={"reason": "down"}, headers=AUTH)
        targeted = await http.post(url, json={"commit": "abc123", "reason": "bad"}, headers=AUTH)
    for reply in (emergency, targeted):
        assert reply.status_code == 422
        assert reply.json()["detail"] == (
            "strategy 'redeploy' verifies the new container with its health check: "
            "add [services.health] to service 'diaspora'"
        )
    assert calls == []


async def test_health_reports_each_part(
    client: httpx.AsyncClient, emitter: CountingEmitter
) -> None:
    healthy = (await client.get("/api/health")).json()
    assert healthy["status"] == "ok"
    assert healthy["database"]["ok"] and healthy["prefect"]["ok"]
    emitter.failing = True
    degraded = await client.get("/api/health")
    assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"


async def test_root_redirects_to_the_prefect_ui(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "http://127.0.0.1:4200"


async def test_openapi_documents_every_endpoint(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert set(spec["paths"]) >= {
        "/api/health",
        "/api/dashboard",
        "/api/services",
        "/api/services/{name}",
        "/api/services/{name}/builds",
        "/api/services/{name}/rollback",
        "/api/webhooks/github",
        "/api/webhooks/gitlab",
    }
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


async def test_ui_url_comes_from_config_else_from_the_prefect_api_url(
    app_factory: AppFactory, config: Config
) -> None:
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    with temporary_settings(
        {PREFECT_API_URL: "http://127.0.0.1:4300/api"}, restore_defaults={PREFECT_UI_URL}
    ):
        derived = app_factory(ui_url=None)
    config.server.public_ui_url = "https://prefect.example.com"
    configured = app_factory(ui_url=None, config=config)
    for app, expected in (
        (derived, "http://127.0.0.1:4300"),
        (configured, "https://prefect.example.com"),
    ):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/")).headers["location"] == expected
