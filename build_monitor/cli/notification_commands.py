"""`build-monitor test-notification`: send a real message through a configured channel."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict
from typing import Annotated

import typer

from build_monitor.cli.app import ConfigOption, JsonOption, app, fail, get_config, print_json
from build_monitor.cli.progress import note
from build_monitor.errors import BuildMonitorError
from build_monitor.notifications.routing import select_entry
from build_monitor.prefect_runtime import prefect_api


@app.command("test-notification")
def test_notification(
    channel: Annotated[
        str,
        typer.Option(
            "--channel",
            help="slack, discord, email, webhook, or the name of a [[notifications]] entry.",
        ),
    ],
    message: Annotated[
        str, typer.Option("--message", help="Text of the test message.")
    ] = "Test message from build-monitor.",
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a test message through the configured block; exit 1 if the receiver refuses it."""
    from blocks.notification_channels import sender_for
    from build_monitor.notifications.dispatch import send_test_message

    try:
        config = get_config(config_path, required=False)
        # Only a saved block needs the Prefect API; environment channels work without one.
        needs_api = select_entry(channel, config.notifications).block is not None
        with prefect_api(note) if needs_api else nullcontext():
            result = send_test_message(channel, message, config=config, senders=sender_for)
    except BuildMonitorError as exc:
        raise fail(str(exc), exc.exit_code) from None
    if as_json:
        print_json(asdict(result))
    elif result.status == "sent":
        typer.echo(
            f"sent a test message to {result.channel} ({result.kind}) "
            f"in {result.elapsed_seconds:.2f} s"
        )
    if result.status != "sent":
        raise fail(f"{result.channel} ({result.kind}): {result.detail}", 1)
