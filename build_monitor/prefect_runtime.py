"""The one place that decides which Prefect API build-monitor uses: $PREFECT_API_URL (or the
Prefect profile's) when set, else a local Prefect server that build-monitor starts once (SQLite
under its data dir) and reuses across commands.

Prefect reads its settings from a context variable, falling back to a process-global copy of
the environment taken when `prefect` was first imported. So choosing the API later must set all
three: the context (this thread), the environment (subprocesses: flow runs, servers), and every
thread build-monitor starts must run in a copy of the chooser's context (`in_current_context`).
"""

from __future__ import annotations

import contextvars
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from build_monitor.errors import InfrastructureError
from build_monitor.settings import data_dir

DEFAULT_PORT = 4200
START_TIMEOUT_SECONDS = 120


def configured_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value() or None


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _state_file() -> Path:
    return data_dir() / "prefect" / "server.json"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_port() -> int:
    if _port_free(DEFAULT_PORT):
        return DEFAULT_PORT
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(prefect_home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    }


def local_server_url() -> str | None:
    """The URL of build-monitor's own local server if it is up."""
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    url = state.get("api_url")
    return url if isinstance(url, str) and _healthy(url) else None


def spawn_prefect_server(
    home: Path, port: int, extra_env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A detached `build_monitor.prefect_server` on 127.0.0.1:`port` with its data in `home`
    (its output in `home/server.log`)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "server.log", "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "build_monitor.prefect_server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env={**server_environment(home), **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_prefect_server(
    process: subprocess.Popen[bytes], api_url: str, home: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _healthy(api_url):
            return
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.kill()
    raise InfrastructureError(f"the local Prefect server did not start; see {home / 'server.log'}")


def start_local_server(progress: Callable[[str], None] = lambda _: None) -> str:
    """Start build-monitor's detached local Prefect server and wait until it answers."""
    home = data_dir() / "prefect"
    port = _pick_port()
    api_url = f"http://127.0.0.1:{port}/api"
    progress(f"starting a local Prefect server on http://127.0.0.1:{port} (data in {home})")
    process = spawn_prefect_server(home, port)
    wait_for_prefect_server(process, api_url, home, START_TIMEOUT_SECONDS)
    _state_file().write_text(json.dumps({"api_url": api_url, "pid": process.pid}))
    return api_url


@dataclass(frozen=True)
class PrefectApiChoice:
    url: str
    # True when this call started the local server (whoever started it stops it).
    started_here: bool = False


def choose_prefect_api(progress: Callable[[str], None] = lambda _: None) -> PrefectApiChoice:
    """$PREFECT_API_URL, else build-monitor's local server, started if it is not running."""
    configured = configured_api_url() or local_server_url()
    if configured:
        return PrefectApiChoice(configured)
    return PrefectApiChoice(start_local_server(progress), started_here=True)


def resolve_api_url(progress: Callable[[str], None] = lambda _: None) -> str:
    return choose_prefect_api(progress).url


def ui_url(api_url: str) -> str:
    from prefect.settings import PREFECT_UI_URL

    configured = os.environ.get("PREFECT_UI_URL") or PREFECT_UI_URL.value()
    if configured and not configured.startswith("http://ephemeral"):
        return str(configured).rstrip("/")
    return api_url.removesuffix("/api").rstrip("/")


@contextmanager
def using_prefect_api(api_url: str) -> Iterator[str]:
    """Point this context and every subprocess started inside the block at `api_url`."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


@contextmanager
def prefect_api(progress: Callable[[str], None] = lambda _: None) -> Iterator[str]:
    """Run the block with Prefect pointed at the API `resolve_api_url` chose."""
    with using_prefect_api(resolve_api_url(progress)) as api_url:
        yield api_url


@contextmanager
def without_flow_heartbeat() -> Iterator[None]:
    """Flow runs started inside the block send no Prefect heartbeat of their own (nested
    subflows, whose parent's heartbeat covers them; each would otherwise wait up to 1 s for its
    heartbeat thread on exit). Copying Prefect's settings costs 0.1-1 s on this machine (every
    settings source is read again), so the copy is made only while heartbeats are on: nested
    blocks cost nothing."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    if get_current_settings().flows.heartbeat_frequency is None:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def in_current_context(target: Callable[[], object]) -> Callable[[], object]:
    """`target`, to run on another thread with this thread's context (so its Prefect settings)."""
    context = contextvars.copy_context()
    return lambda: context.run(target)


def stop_local_server() -> bool:
    try:
        state = json.loads(_state_file().read_text())
        os.killpg(int(state["pid"]), signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        return False
    _state_file().unlink(missing_ok=True)
    return True
