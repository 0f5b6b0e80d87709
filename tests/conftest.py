"""Shared test setup: an isolated data dir, telemetry off, a Prefect test server, fixtures for
real Docker and generated sample Rust repositories (tests/repo_fixtures.py)."""

from __future__ import annotations

import os
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
def prefect_api_url() -> Iterator[str]:
    """A real Prefect server (the test harness) for the whole session; its URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        assert url
        yield str(url)


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
