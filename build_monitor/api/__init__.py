"""build-monitor's HTTP service: push webhooks in, REST API out (FastAPI).

Import the app factory from `build_monitor.api.app`; this package stays import-light so that the
config models in `build_monitor.api.config` can be loaded without FastAPI or Prefect.
"""
