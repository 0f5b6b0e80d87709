"""Real receivers on 127.0.0.1: an HTTP server playing Slack/Discord/a webhook, and SMTP."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from build_monitor.config import Config, parse_config

SMTP_USER = "monitor"
SMTP_PASSWORD = "smtp-pass-s3cr3t-XYZ"


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


class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login.decode() == SMTP_USER
        and data.password.decode() == SMTP_PASSWORD
    )
    return AuthResult(success=ok, auth_data=data)


@dataclass
class SmtpServer:
    port: int
    collector: _Collector

    @property
    def messages(self) -> list[EmailMessage]:
        return self.collector.messages

    def env(self) -> dict[str, str]:
        return {
            "SMTP_SERVER": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_TYPE": "INSECURE",
            "SMTP_USERNAME": SMTP_USER,
            "SMTP_PASSWORD": SMTP_PASSWORD,
        }


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    collector = _Collector()
    port = free_port()
    controller = Controller(
        collector,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
        ready_timeout=10,
    )
    controller.start()
    yield SmtpServer(port, collector)
    controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_config(tmp_path: Path, data: dict[str, Any]) -> Config:
    data = {"storage": {"database_url": f"sqlite:///{tmp_path / 'history.db'}"}, **data}
    return parse_config(data, tmp_path / "config.toml")
