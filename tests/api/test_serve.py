"""`python -m build_monitor.api.serve`: the API alone (the compose stack's `api` service)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from build_monitor.builders.health import free_port


def _environment(tmp_path: Path, config: Path, prefect_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "BUILD_MONITOR_CONFIG": str(config),
        "BUILD_MONITOR_DATA_DIR": str(tmp_path / "data"),
        # Nothing listens there: the API must still serve, Prefect only "degraded".
        "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
    }


def test_a_missing_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "build_monitor.api.serve"],
        env=_environment(tmp_path, tmp_path / "missing.toml", free_port()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("error: config")
    ]


@pytest.mark.slow
def test_it_serves_the_api_while_prefect_is_unreachable(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\n')
    server = subprocess.Popen(
        [sys.executable, "-m", "build_monitor.api.serve"],
        env=_environment(tmp_path, config, free_port()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline, report = time.monotonic() + 120, None
        while report is None and time.monotonic() < deadline and server.poll() is None:
            try:
                report = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()
            except httpx.HTTPError:
                time.sleep(0.5)
        assert report is not None, server.stdout.read().decode() if server.stdout else ""
        assert (report["status"], report["database"]["ok"], report["prefect"]["ok"]) == (
            "degraded",
            True,
            False,
        )
        # The REST API is there, behind its authentication.
        services = httpx.get(f"http://127.0.0.1:{port}/api/services", timeout=5)
        assert services.status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=60)
