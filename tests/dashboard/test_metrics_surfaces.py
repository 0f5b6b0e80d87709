"""The metrics' values where users read them: `build-monitor status --json` and
`GET /api/dashboard`, from a history with two red episodes (one 10 days ago, one 2 days ago),
bisections, rollbacks done and refused, a dry run and a bisection probe (both left out)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from build_monitor.api.app import create_app
from build_monitor.api.config import ApiConfig
from build_monitor.api.secrets import CachingSecretResolver
from build_monitor.cli import app as cli_app
from build_monitor.config import Config, load_config
from build_monitor.history.db import session_scope
from build_monitor.history.models import (
    Bisection,
    BisectionStatus,
    Build,
    BuildStatus,
    Rollback,
    RollbackStatus,
    ServiceRecord,
    ServiceState,
    WebhookDelivery,
)
from build_monitor.sample.service import SampleRepo
from build_monitor.webhooks.config import SecretRef
from build_monitor.webhooks.events import PUSH_EVENT
from tests.api.conftest import API_TOKEN, ENVIRON, WEBHOOKS, CountingEmitter
from tests.configs import service_table, write_config

SERVICE = "metrics-h4"
QUIET = "quiet-h4"  # configured, no history: its windows are empty

# What the history below must give (seconds; rates are passed / finished builds).
WEEK = {
    "window_days": 7,
    "builds": 2,
    "success_rate": 0.5,
    "red_episodes": 1,
    "detection_s": 90.0,  # the webhook arrived 60 s before the build started, 30 s build
    "culprit_s": 600.0,
    "mttr_s": 1200.0,  # the verified rollback, before the next passing build
    "rollbacks_done": 1,
    "rollbacks_refused": 1,
}
MONTH = {
    "window_days": 30,
    "builds": 5,
    "success_rate": 0.6,
    "red_episodes": 2,
    "detection_s": 105.0,  # (120 + 90) / 2; no webhook 10 days ago: from the build's start
    "culprit_s": 450.0,  # (300 + 600) / 2
    "mttr_s": 1050.0,  # (900, to the next passing build + 1200) / 2
    "rollbacks_done": 1,
    "rollbacks_refused": 1,
}
EMPTY = {
    "builds": 0,
    "success_rate": None,
    "red_episodes": 0,
    "detection_s": None,
    "culprit_s": None,
    "mttr_s": None,
    "rollbacks_done": 0,
    "rollbacks_refused": 0,
}


def build(
    commit: str, passed: bool, started: datetime, seconds: float, trigger: str = "poll"
) -> Build:
    return Build(
        service=SERVICE,
        commit=commit * 40,
        author="Ann",
        subject=f"change {commit}",
        trigger=trigger,
        status=BuildStatus.passed if passed else BuildStatus.failed,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds),
        duration_s=seconds,
    )


def rollback(
    status: RollbackStatus, started: datetime, seconds: float, *, dry_run: bool = False
) -> Rollback:
    return Rollback(
        service=SERVICE,
        strategy="redeploy",
        to_commit="a" * 40,
        status=status,
        verification="passed" if status is RollbackStatus.succeeded else None,
        dry_run=dry_run,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds),
    )


def culprit_found(good: str, bad: str, at: datetime) -> Bisection:
    return Bisection(
        service=SERVICE,
        good=good * 40,
        bad=bad * 40,
        status=BisectionStatus.confirmed,
        culprit=bad * 40,
        started_at=at - timedelta(seconds=60),
        finished_at=at,
    )


def write_history(database_url: str, now: datetime) -> None:
    old, recent = now - timedelta(days=10), now - timedelta(days=2)
    with session_scope(database_url) as session:
        session.add(
            ServiceRecord(name=SERVICE, repo="-", branch="main", state=ServiceState.healthy)
        )
        session.add_all(
            [
                # 10 days ago: red for 900 s until the next passing build.
                build("1", True, old - timedelta(minutes=20), 600),
                build("2", False, old, 120),
                culprit_found("1", "2", old + timedelta(seconds=120 + 300)),
                build("3", True, old + timedelta(seconds=120 + 600), 300),
                # 2 days ago: pushed (webhook), red, culprit, a refused and a verified rollback.
                WebhookDelivery(
                    forge="github",
                    delivery_id="h4-metrics-1",
                    service=SERVICE,
                    event=PUSH_EVENT,
                    payload=json.dumps([{"payload": {"service": SERVICE, "after": "4" * 40}}]),
                    received_at=recent - timedelta(seconds=60),
                ),
                build("4", False, recent, 30),
                build("9", False, recent + timedelta(seconds=40), 50, trigger="bisect"),
                culprit_found("3", "4", recent + timedelta(seconds=30 + 600)),
                rollback(RollbackStatus.refused, recent + timedelta(seconds=100), 1),
                rollback(RollbackStatus.succeeded, recent + timedelta(seconds=30 + 650), 550),
                rollback(
                    RollbackStatus.succeeded, recent + timedelta(seconds=900), 5, dry_run=True
                ),
                build("5", True, recent + timedelta(seconds=3000), 300),
            ]
        )


def make_config(tmp_path: Path) -> Config:
    tables = [
        service_table(
            SampleRepo(
                path=tmp_path / "repo",
                branch="main",
                commits=[],
                good=None,
                culprit=None,
                binary="svc",
                expected_signature=None,
            ),
            name=name,
        )
        for name in (SERVICE, QUIET)
    ]
    return load_config(write_config(tmp_path, *tables))


def check_metrics(document: dict[str, Any]) -> None:
    service = document["services"][SERVICE]
    assert service["7d"] == WEEK
    assert service["30d"] == MONTH
    # The fleet adds a service without history: the same figures.
    assert document["fleet"] == {"7d": WEEK, "30d": MONTH}
    quiet = document["services"][QUIET]
    assert quiet["7d"] == {"window_days": 7, **EMPTY}
    assert quiet["30d"] == {"window_days": 30, **EMPTY}


@pytest.mark.prefect
def test_status_json_reports_the_metrics_of_the_history(
    prefect_api_url: str, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    write_history(config.database_url, datetime.now(UTC))
    assert config.source is not None
    result = CliRunner().invoke(
        cli_app, ["status", "--config", str(config.source), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    check_metrics(json.loads(result.stdout)["metrics"])


def test_the_api_dashboard_reports_the_same_metrics(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_history(config.database_url, datetime.now(UTC))
    application = create_app(
        config,
        emitter=CountingEmitter(),
        webhooks=WEBHOOKS,
        api=ApiConfig(token=SecretRef(env="BUILD_MONITOR_API_TOKEN")),
        secret_resolver=CachingSecretResolver(environ=ENVIRON),
        ui_url="http://127.0.0.1:4200",
    )

    async def read_dashboard() -> httpx.Response:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as api:
                return await api.get(
                    "/api/dashboard", headers={"Authorization": f"Bearer {API_TOKEN}"}
                )

    reply = asyncio.run(read_dashboard())
    assert reply.status_code == 200, reply.text
    check_metrics(reply.json()["metrics"])
