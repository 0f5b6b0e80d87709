"""Sending e-mail with prefect-email's EmailServerCredentials, with a timeout it lacks."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage

from prefect_email import EmailServerCredentials
from prefect_email.credentials import SMTPServer, SMTPType
from pydantic import SecretStr

from build_monitor.notifications.redact import redact, register_secret
from build_monitor.notifications.retry import DeliveryError

ENV_PREFIX = "SMTP_"


def email_credentials_from_env(environ: Mapping[str, str]) -> EmailServerCredentials | None:
    """SMTP_SERVER (required), SMTP_PORT, SMTP_TYPE (SSL|STARTTLS|INSECURE), SMTP_USERNAME,
    SMTP_PASSWORD, SMTP_VERIFY (false to skip certificate checks)."""
    server = environ.get("SMTP_SERVER", "").strip()
    if not server:
        return None
    port = environ.get("SMTP_PORT", "").strip()
    return EmailServerCredentials(
        smtp_server=server,
        smtp_type=environ.get("SMTP_TYPE", "STARTTLS").strip() or "STARTTLS",
        smtp_port=int(port) if port else None,
        username=environ.get("SMTP_USERNAME") or None,
        password=SecretStr(environ.get("SMTP_PASSWORD", "")),
        verify=environ.get("SMTP_VERIFY", "true").strip().lower() not in ("0", "false", "no"),
    )


def email_secret_values(credentials: EmailServerCredentials) -> list[str]:
    return [credentials.password.get_secret_value()]


def open_smtp(credentials: EmailServerCredentials, *, timeout: float) -> smtplib.SMTP:
    """EmailServerCredentials.get_server(), plus a timeout: without one a silent server
    would hang the calling flow forever."""
    host = credentials.smtp_server
    host_name = host.value if isinstance(host, SMTPServer) else str(host)
    smtp_type = credentials.smtp_type
    if not isinstance(smtp_type, SMTPType):
        smtp_type = SMTPType[str(smtp_type).upper()]
    port = credentials.smtp_port or smtp_type.value
    server: smtplib.SMTP
    if smtp_type == SMTPType.INSECURE:
        server = smtplib.SMTP(host_name, port, timeout=timeout)
    else:
        context = (
            ssl.create_default_context()
            if credentials.verify
            else ssl._create_unverified_context(protocol=ssl.PROTOCOL_TLS_CLIENT)
        )
        if smtp_type == SMTPType.SSL:
            server = smtplib.SMTP_SSL(host_name, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host_name, port, timeout=timeout)
            server.starttls(context=context)
    if credentials.username:
        server.login(credentials.username, credentials.password.get_secret_value())
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


def send_email(
    credentials: EmailServerCredentials, message: EmailMessage, *, timeout: float = 10.0
) -> None:
    secrets = email_secret_values(credentials)
    for secret in secrets:
        register_secret(secret)
    try:
        with open_smtp(credentials, timeout=timeout) as server:
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
