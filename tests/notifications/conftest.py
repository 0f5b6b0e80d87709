"""Real receivers on 127.0.0.1: an HTTP server playing Slack/Discord/a webhook, and SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from build_monitor.builders.health import free_port
from build_monitor.config import Config, parse_config
from tests.http_receiver import Received, Receiver

__all__ = ["Received", "Receiver"]

SMTP_USER = "monitor"
SMTP_PASSWORD = "smtp-pass-s3cr3t-XYZ"


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


def make_config(tmp_path: Path, data: dict[str, Any]) -> Config:
    data = {"storage": {"database_url": f"sqlite:///{tmp_path / 'history.db'}"}, **data}
    return parse_config(data, tmp_path / "config.toml")
