"""Shared test setup: an isolated data dir, telemetry off, a Prefect test server, fixtures for
real Docker and generated sample Rust repositories (tests/repo_fixtures.py)."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# Never the user's things: not their data dir (whose server.json would point the stray-server
# check below at their own Prefect server), not their Prefect profile or API, not their config.
os.environ["BUILD_MONITOR_DATA_DIR"] = tempfile.mkdtemp(prefix="bm-test-data-")
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="bm-test-prefect-home-")
for _name in (
    "BUILD_MONITOR_CONFIG",
    "BUILD_MONITOR_HOST",
    "BUILD_MONITOR_PORT",
    "LOG_LEVEL",
    "PREFECT_API_URL",
    "PREFECT_API_KEY",
    "PREFECT_PROFILE",
):
    os.environ.pop(_name, None)

import pytest  # noqa: E402

pytest_plugins = ["tests.pg_fixtures", "tests.repo_fixtures", "tests.http_receiver"]


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server for the whole session, on SQLite, as build-monitor starts it on
    the embedded default (`build_monitor.prefect_server`); its URL, set as PREFECT_API_URL."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from build_monitor.builders.health import free_port
    from build_monitor.prefect_runtime import spawn_prefect_server, wait_for_prefect_server

    home = tmp_path_factory.mktemp("prefect-test-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    database = f"sqlite+aiosqlite:///{home / 'prefect.db'}"
    server = spawn_prefect_server(home, port, {"PREFECT_SERVER_DATABASE_CONNECTION_URL": database})
    try:
        wait_for_prefect_server(server, url, home, timeout=120)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
            # What the session's runs still have to send, sent before the server goes (else
            # Prefect's workers retry a gone server at exit for a minute).
            APILogWorker.drain_all()
            EventsWorker.drain_all()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture(autouse=True)
def no_stray_local_prefect_server() -> Iterator[None]:
    """A command run without the test server's URL starts build-monitor's own detached Prefect
    server in the session data dir, and it outlives the test: fail the test that did it."""
    from build_monitor.prefect_runtime import stop_local_server

    state = Path(os.environ["BUILD_MONITOR_DATA_DIR"]) / "prefect" / "server.json"
    yield
    if state.exists():
        stop_local_server()
        state.unlink(missing_ok=True)
        pytest.fail("this test started a local Prefect server: pass PREFECT_API_URL to it")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("BUILD_MONITOR_DATA_DIR", str(path))
    return path
