"""The API and webhooks alone: no deployments served, no Prefect server started. For replicas
behind a load balancer whose flows run on a work pool (docker-compose.yml's `api` service):

    python -m build_monitor.api.serve      # on BUILD_MONITOR_HOST:BUILD_MONITOR_PORT

Replicas share the history database, so its webhook dedupe and outbox are shared too.
PREFECT_API_URL must point at the Prefect server whose work pool runs the deployments."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from build_monitor.api.app import create_app
from build_monitor.api.rollback import start_rollback_via_prefect
from build_monitor.config import Config, load_config
from build_monitor.errors import BuildMonitorError
from build_monitor.history.dashboard import DASHBOARD_SOURCES


def api_only_app(config: Config) -> FastAPI:
    return create_app(
        config, start_rollback=start_rollback_via_prefect, dashboard_sources=DASHBOARD_SOURCES
    )


def main() -> int:
    import uvicorn

    try:
        config = load_config(None)
    except BuildMonitorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    server = config.server
    uvicorn.run(
        api_only_app(config),
        host=server.host,
        port=server.port,
        log_level=server.log_level.lower(),
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
