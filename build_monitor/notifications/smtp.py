"""Sending e-mail over SMTP with a timeout on every step (without one a silent server would
hang the calling flow forever)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from build_monitor.errors import ConfigError
from build_monitor.notifications.redact import redact, register_secret
from build_monitor.notifications.retry import DeliveryError

SmtpSecurity = Literal["SSL", "STARTTLS", "INSECURE"]
DEFAULT_PORTS: dict[SmtpSecurity, int] = {"SSL": 465, "STARTTLS": 587, "INSECURE": 25}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to submit mail; built from prefect-email's EmailServerCredentials block
    (blocks/notification_channels.py) or from the SMTP_* environment variables."""

    host: str
    security: SmtpSecurity = "STARTTLS"
    port: int | None = None
    username: str | None = None
    password: str = field(default="", repr=False)
    verify: bool = True

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def secrets(self) -> list[str]:
        return [self.password] if self.password else []


def parse_security(value: str) -> SmtpSecurity:
    text = value.strip().upper() or "STARTTLS"
    for option in DEFAULT_PORTS:
        if text == option:
            return option
    raise ConfigError(f"SMTP_TYPE must be one of SSL, STARTTLS, INSECURE; got {value!r}")


def smtp_settings_from_env(environ: Mapping[str, str]) -> SmtpSettings | None:
    """SMTP_SERVER (required), SMTP_PORT, SMTP_TYPE (SSL|STARTTLS|INSECURE), SMTP_USERNAME,
    SMTP_PASSWORD, SMTP_VERIFY (false to skip certificate checks)."""
    server = environ.get("SMTP_SERVER", "").strip()
    if not server:
        return None
    port = environ.get("SMTP_PORT", "").strip()
    if port and not port.isdigit():
        raise ConfigError(f"SMTP_PORT must be a port number; got {port!r}")
    return SmtpSettings(
        host=server,
        security=parse_security(environ.get("SMTP_TYPE", "STARTTLS")),
        port=int(port) if port else None,
        username=environ.get("SMTP_USERNAME") or None,
        password=environ.get("SMTP_PASSWORD", ""),
        verify=environ.get("SMTP_VERIFY", "true").strip().lower() not in ("0", "false", "no"),
    )


def open_smtp(settings: SmtpSettings, *, timeout: float) -> smtplib.SMTP:
    """A connected, logged-in SMTP session, as EmailServerCredentials.get_server() opens it."""
    host, port = settings.host, settings.effective_port
    server: smtplib.SMTP
    if settings.security == "INSECURE":
        server = smtplib.SMTP(host, port, timeout=timeout)
    else:
        context = (
            ssl.create_default_context()
            if settings.verify
            else ssl._create_unverified_context(protocol=ssl.PROTOCOL_TLS_CLIENT)
        )
        if settings.security == "SSL":
            server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
            server.starttls(context=context)
    if settings.username:
        server.login(settings.username, settings.password)
    return server


def _smtp_error(exc: smtplib.SMTPException, secrets: list[str]) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        refused = ", ".join(f"{addr} ({code})" for addr, (code, _) in exc.recipients.items())
        return DeliveryError(
            f"SMTP server refused recipients: {refused}",
            status_code=max(codes) if codes else None,
            retryable=bool(codes) and all(400 <= code < 500 for code in codes),
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        return DeliveryError(
            f"SMTP server answered {exc.smtp_code}: {redact(text, secrets)[:200]}",
            status_code=exc.smtp_code,
            retryable=400 <= exc.smtp_code < 500,
        )
    retryable = isinstance(exc, smtplib.SMTPServerDisconnected)
    return DeliveryError(f"SMTP error: {redact(str(exc), secrets)[:200]}", retryable=retryable)


def send_email(settings: SmtpSettings, message: EmailMessage, *, timeout: float = 10.0) -> None:
    secrets = settings.secrets()
    for secret in secrets:
        register_secret(secret)
    try:
        with open_smtp(settings, timeout=timeout) as server:
            server.send_message(message)
    except smtplib.SMTPException as exc:
        raise _smtp_error(exc, secrets) from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"SMTP TLS failed: {exc.reason or exc}") from None
    except TimeoutError:
        raise DeliveryError(
            f"SMTP server did not answer within {timeout:.1f} s", retryable=True
        ) from None
    except OSError as exc:
        reason = redact(f"{type(exc).__name__}: {exc}", secrets)
        raise DeliveryError(f"SMTP server unreachable ({reason})", retryable=True) from None
