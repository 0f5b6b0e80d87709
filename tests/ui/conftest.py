"""A real `prefect server start` with the UI on a free 127.0.0.1 port and a PREFECT_HOME of its
own: the session's test harness serves the API only (it turns the UI off)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from build_monitor.builders.health import free_port

SERVER_STARTUP_SECONDS = 180


@pytest.fixture(scope="module")
def prefect_ui_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a Prefect server with its UI (its API is `<url>/api`)."""
    home = tmp_path_factory.mktemp("prefect-ui-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        # The UI asks the server where its API is; without this it answers port 4200.
        "PREFECT_UI_API_URL": f"{url}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
    }
    env.pop("PREFECT_API_URL", None)
    log = (home / "server.log").open("w")
    prefect = Path(sys.executable).parent / "prefect"
    server = subprocess.Popen(
        [str(prefect), "server", "start"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SERVER_STARTUP_SECONDS
        while not _answers(f"{url}/api/health") or not _answers(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"prefect server start did not come up: {(home / 'server.log').read_text()}"
                )
            time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
