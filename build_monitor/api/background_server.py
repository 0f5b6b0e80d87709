"""Serving an app with uvicorn on a background thread (tests, benchmarks, embedding)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from build_monitor.errors import InfrastructureError
from build_monitor.prefect_runtime import in_current_context


@contextmanager
def running_server(
    app: FastAPI,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout_seconds: float = 20.0,
    log_level: str = "warning",
) -> Iterator[str]:
    """Yield the base URL (`http://HOST:PORT`) while `app` is served; port 0 picks a free one."""
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)
    )
    # The API starts flow runs and emits events: it must see the Prefect API its caller chose.
    thread = threading.Thread(target=in_current_context(server.run), name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_seconds
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise InfrastructureError(f"the API server did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout_seconds)
