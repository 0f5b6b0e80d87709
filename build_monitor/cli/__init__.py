"""The `build-monitor` command line."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from build_monitor.cli import (  # noqa: F401
    bisect_command,
    check_commands,
    db_commands,
    demo_command,
    history_command,
    notification_commands,
    rollback_commands,
    service_commands,
    start_command,
)
from build_monitor.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
