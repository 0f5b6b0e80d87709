"""`build-monitor start`: run the whole system on one machine."""

from __future__ import annotations

from build_monitor.cli.app import ConfigOption, app, get_config
from build_monitor.cli.progress import note


@app.command("start")
def start(config: ConfigOption = None) -> None:
    """Start everything: a Prefect server if PREFECT_API_URL is unset, the deployments (monitor
    per service on its polling schedule and push trigger, check, bisect, rollback), and the API
    on BUILD_MONITOR_HOST:BUILD_MONITOR_PORT. Stops cleanly on Ctrl-C or SIGTERM."""
    from build_monitor.cli.system import run_system

    loaded = get_config(config)
    run_system(loaded, note)
