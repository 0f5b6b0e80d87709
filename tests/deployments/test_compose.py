"""docker-compose.yml: it validates with image names from the environment, and its stack comes
up offline from locally built images: PostgreSQL, Prefect on it, the registration, the API and
workers on the `build-monitor` pool."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from build_monitor.builders.health import free_port

PROJECT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT / "docker-compose.yml"
SERVICES = {"postgres", "prefect-server", "register", "api", "worker"}
STACK_DEADLINE_SECONDS = 900
SOCKET = "/var/run/docker.sock"
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def compose(
    project: str, environment: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", "-p", project, "-f", str(COMPOSE_FILE), *args],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def resolved(environment: dict[str, str]) -> dict[str, Any]:
    result = compose("bm-h5-config", environment, "config")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = yaml.safe_load(result.stdout)
    return document


def test_compose_config_validates_with_images_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((PROJECT / "compose" / "config.toml").read_text())
    document = resolved(
        {
            "BUILD_MONITOR_CONFIG_FILE": str(config),
            "BUILD_MONITOR_IMAGE": "registry.example.com/build-monitor:0.1.0",
            "POSTGRES_IMAGE": "registry.example.com/postgres:16",
            "PREFECT_IMAGE": "prefecthq/prefect:3.9.1-python3.11",
        }
    )
    services = document["services"]
    assert set(services) == SERVICES
    for name in ("register", "api", "worker"):
        assert services[name]["image"] == "registry.example.com/build-monitor:0.1.0", name
    assert services["postgres"]["image"] == "registry.example.com/postgres:16"
    assert services["prefect-server"]["image"] == "prefecthq/prefect:3.9.1-python3.11"
    prefect_database = services["prefect-server"]["environment"][
        "PREFECT_API_DATABASE_CONNECTION_URL"
    ]
    assert prefect_database.startswith("postgresql+asyncpg://")
    assert services["worker"]["command"][:4] == ["prefect", "worker", "start", "--pool"]
    assert "build-monitor" in services["worker"]["command"]
    assert "--work-pool build-monitor" in " ".join(services["register"]["command"])
    assert "postgres-data" in document["volumes"]
    assert any(v.startswith("postgres-data:") for v in services["postgres"]["volumes"])


def test_compose_defaults_to_local_images() -> None:
    document = resolved({"BUILD_MONITOR_CONFIG_FILE": str(PROJECT / "compose" / "config.toml")})
    images = {name: service["image"] for name, service in document["services"].items()}
    assert images["api"] == images["worker"] == images["prefect-server"] == "build-monitor:local"


@pytest.fixture
def stack(
    build_monitor_image: str, postgres_image: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    ports = {name: str(free_port()) for name in ("PREFECT", "POSTGRES", "BUILD_MONITOR")}
    config = tmp_path / "config.toml"
    config.write_text(
        (PROJECT / "compose" / "config.toml")
        .read_text()
        .replace("127.0.0.1:5433", f"127.0.0.1:{ports['POSTGRES']}")
    )
    config.chmod(0o644)
    environment = {
        "BUILD_MONITOR_IMAGE": build_monitor_image,
        "PREFECT_IMAGE": build_monitor_image,
        "POSTGRES_IMAGE": postgres_image,
        "POSTGRES_PASSWORD": secrets.token_hex(8),
        "BUILD_MONITOR_CONFIG_FILE": str(config),
        "DOCKER_GID": str(os.stat(SOCKET).st_gid),
        "PREFECT_PORT": ports["PREFECT"],
        "POSTGRES_PORT": ports["POSTGRES"],
        "BUILD_MONITOR_PORT": ports["BUILD_MONITOR"],
        "BUILD_MONITOR_BIND": "127.0.0.1",
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{ports['PREFECT']}/api",
    }
    project = f"bm-h5-stack-{secrets.token_hex(3)}"
    try:
        up = compose(
            project, environment, "up", "-d", "--scale", "worker=2", timeout=STACK_DEADLINE_SECONDS
        )
        assert up.returncode == 0, up.stderr[-3000:]
        yield {"project": project, **environment}
    finally:
        compose(project, environment, "down", "-v", "--remove-orphans", "-t", "10", timeout=300)


def _poll(url: str, *, method: str = "GET", body: Any = None) -> Any:
    """The JSON of the first 200 or 201 answer before the deadline, else the last problem."""
    if method == "POST" and body is None:
        body = {}
    deadline, last = time.monotonic() + STACK_DEADLINE_SECONDS, "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.request(method, url, json=body, timeout=10)
            if response.status_code in (200, 201):
                return response.json()
            last = f"{response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(2)
    raise AssertionError(f"{url}: {last}")


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(3600)  # builds both images first when their cache is cold
def test_the_stack_comes_up_offline_on_postgresql(stack: dict[str, str]) -> None:
    prefect = f"http://127.0.0.1:{stack['PREFECT_PORT']}/api"
    health = f"http://127.0.0.1:{stack['BUILD_MONITOR_PORT']}/api/health"
    deadline = time.monotonic() + STACK_DEADLINE_SECONDS
    report = _poll(health)
    while report["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(2)
        report = _poll(health)
    # The API's history database is the stack's PostgreSQL (config.toml says so).
    assert (report["status"], report["database"]["ok"], report["prefect"]["ok"]) == (
        "ok",
        True,
        True,
    )
    deployments = _poll(
        f"{prefect}/deployments/filter",
        method="POST",
        body={"work_pools": {"name": {"any_": ["build-monitor"]}}},
    )
    names = {d["name"] for d in deployments}
    assert {"check-commit", "bisect", "rollback", "emergency-rollback", "deploy"} <= names
    workers: list[Any] = []
    while time.monotonic() < deadline:
        workers = _poll(
            f"{prefect}/work_pools/build-monitor/workers/filter", method="POST", body={}
        )
        if sum(1 for w in workers if w.get("status") == "ONLINE") >= 2:
            break
        time.sleep(2)
    assert sum(1 for w in workers if w.get("status") == "ONLINE") == 2, workers
    ps = compose(stack["project"], stack, "ps", "register")
    assert "Exit 0" in ps.stdout, ps.stdout
    # A worker takes a run from the pool and runs the flow from the image with the stack's
    # config: the flow itself rejects the service, which only its code and config know.
    check = next(d for d in deployments if d["name"] == "check-commit")
    run = _poll(
        f"{prefect}/deployments/{check['id']}/create_flow_run",
        method="POST",
        body={"parameters": {"service": "h5-unknown"}},
    )
    state: dict[str, Any] = run["state"]
    while state["type"] not in FINAL_STATES and time.monotonic() < deadline:
        time.sleep(2)
        state = _poll(f"{prefect}/flow_runs/{run['id']}")["state"]
    assert state["type"] == "FAILED", state
    assert "unknown service 'h5-unknown' (known: none configured)" in state["message"]
