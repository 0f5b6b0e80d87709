"""The send-notification task: one task run of the flow per send, retried inside it (so
Retry-After and the entry's time budget hold), against a real receiver on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prefect import flow

from build_monitor.notifications.retry import RetryPolicy
from build_monitor.notifications.senders import SlackSender
from tasks.notify import send_notification

pytestmark = pytest.mark.prefect


@pytest.fixture
def flaky_receiver() -> Iterator[tuple[str, list[bytes]]]:
    """Answers 503 to the first POST and 200 to the rest; records every body."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(503 if len(bodies) == 1 else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_transient_refusal_is_retried_inside_one_task_run(
    prefect_api_url: str, flaky_receiver: tuple[str, list[bytes]]
) -> None:
    url, bodies = flaky_receiver
    policy = RetryPolicy(base_delay_seconds=0.05, jitter=0)

    @flow
    def send_once() -> tuple[int, str]:
        from prefect.runtime import flow_run

        attempts = send_notification("chat", SlackSender(url), {"text": "hi"}, policy)
        return attempts, str(flow_run.id)

    attempts, run_id = send_once()
    assert attempts == 2 and bodies == [b'{"text":"hi"}', b'{"text":"hi"}']

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))  # type: ignore[list-item]
        )
    assert [(t.name, t.run_count) for t in task_runs] == [("send-chat", 1)]
