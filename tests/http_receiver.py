"""A real HTTP receiver on 127.0.0.1 that records every request: plays Slack, Discord or a
custom webhook for tests (the `receiver` fixture)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request; answers from a per-path script, then 200 (204 for /discord)."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    scripts: dict[str, list[tuple[int, dict[str, str], str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base_url + path

    def script(self, path: str, *responses: tuple[int, dict[str, str], str]) -> None:
        self.scripts[path] = list(responses)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def respond(self, request: Received) -> tuple[int, dict[str, str], str]:
        with self.lock:
            self.requests.append(request)
            queue = self.scripts.get(request.path)
            if queue:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        return (204, {}, "") if "discord" in request.path else (200, {}, "ok")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
            status, headers, body = state.respond(request)
            data = body.replace("{path}", self.path).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
