"""Health probing against a real HTTP server on 127.0.0.1: warm-up, settled failures, silence."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from build_monitor.builders.health import ProbeTarget, free_port, probe_http
from build_monitor.config import HealthConfig


@pytest.fixture
def warming_server() -> Iterator[tuple[int, dict[str, Any]]]:
    """Answers `plan["status"]` until `plan["ready_at"]`, then 200."""
    plan: dict[str, Any] = {"status": 503, "ready_at": float("inf")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if time.monotonic() >= plan["ready_at"] else plan["status"]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1], plan
    server.shutdown()
    server.server_close()


def test_a_service_warming_up_passes(warming_server: tuple[int, dict[str, Any]]) -> None:
    port, plan = warming_server
    plan["ready_at"] = time.monotonic() + 1.0
    health = HealthConfig(port=8000, timeout_seconds=10, settle_seconds=3)
    status, reason = probe_http(
        ProbeTarget("127.0.0.1", port), health, deadline=time.monotonic() + 10
    )
    assert (status, reason) == (200, None)


def test_a_settled_wrong_status_fails_after_the_settle_time(
    warming_server: tuple[int, dict[str, Any]],
) -> None:
    port, plan = warming_server
    plan["status"] = 500
    health = HealthConfig(port=8000, timeout_seconds=30, settle_seconds=1)
    started = time.monotonic()
    status, reason = probe_http(ProbeTarget("127.0.0.1", port), health, deadline=started + 30)
    assert (status, reason) == (500, None)
    assert 1.0 <= time.monotonic() - started < 5


def test_silence_until_the_deadline() -> None:
    health = HealthConfig(port=8000, timeout_seconds=1)
    started = time.monotonic()
    status, reason = probe_http(ProbeTarget("127.0.0.1", free_port()), health, deadline=started + 1)
    assert (status, reason) == (None, "no answer")
    assert time.monotonic() - started >= 1
