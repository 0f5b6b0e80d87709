"""An app wired to real parts: a SQLite history file, env-var secrets, a counting emitter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from build_monitor.api.app import create_app
from build_monitor.api.config import ApiConfig
from build_monitor.api.emitter import EmitError, EventEmitter
from build_monitor.api.secrets import CachingSecretResolver
from build_monitor.config import Config, HealthConfig, ServiceConfig, StorageConfig
from build_monitor.webhooks.config import SecretRef, WebhooksConfig
from tests.webhooks.fixtures import DIASPORA_REPO, GITHUB_SECRET, GITLAB_TOKEN, HELLO_WORLD_REPO

API_TOKEN = "api-token-for-tests"
ENVIRON = {
    "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
    "GITLAB_WEBHOOK_TOKEN": GITLAB_TOKEN,
    "BUILD_MONITOR_API_TOKEN": API_TOKEN,
}


class CountingEmitter(EventEmitter):
    """Records what reached it; `failing = True` makes it behave like an unreachable Prefect."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.failing = False
        self.attempts = 0

    async def emit(self, events: Sequence[dict[str, Any]]) -> None:
        self.attempts += 1
        if self.failing:
            raise EmitError("Prefect API unreachable: ConnectError")
        self.events.extend(events)

    async def check(self) -> str | None:
        return "Prefect API unreachable: ConnectError" if self.failing else None


def make_config(tmp_path: Path) -> Config:
    return Config(
        storage=StorageConfig(database_url=f"sqlite:///{tmp_path / 'history.db'}"),
        services=[
            # hello can be redeployed (docker, health-checked); diaspora cannot (no health check).
            ServiceConfig(
                name="hello",
                repo=HELLO_WORLD_REPO,
                branch="master",
                health=HealthConfig(port=8000),
            ),
            ServiceConfig(name="diaspora", repo=DIASPORA_REPO, branch="master"),
        ],
    )


WEBHOOKS = WebhooksConfig(
    github_secret=SecretRef(env="GITHUB_WEBHOOK_SECRET"),
    gitlab_token=SecretRef(env="GITLAB_WEBHOOK_TOKEN"),
    redeliver_interval_seconds=0.1,
    emit_timeout_seconds=2,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def emitter() -> CountingEmitter:
    return CountingEmitter()


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def app_factory(config: Config, emitter: CountingEmitter) -> AppFactory:
    def build(**overrides: Any) -> FastAPI:
        app_config = overrides.pop("config", config)
        options: dict[str, Any] = {
            "emitter": emitter,
            "webhooks": WEBHOOKS,
            "api": ApiConfig(token=SecretRef(env="BUILD_MONITOR_API_TOKEN")),
            "secret_resolver": CachingSecretResolver(environ=ENVIRON),
            "ui_url": "http://127.0.0.1:4200",
        } | overrides
        return create_app(app_config, **options)

    return build


@pytest.fixture
async def app(app_factory: AppFactory) -> AsyncIterator[FastAPI]:
    application = app_factory()
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
