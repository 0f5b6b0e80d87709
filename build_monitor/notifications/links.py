"""Links into the Prefect UI as people reach it."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def ui_base_url(
    *, public_ui_url: str | None, prefect_ui_url: str | None, prefect_api_url: str | None
) -> str | None:
    """config's public_ui_url, else PREFECT_UI_URL, else PREFECT_API_URL without its /api."""
    if public_ui_url:
        base = public_ui_url
    elif prefect_ui_url:
        base = prefect_ui_url
    elif prefect_api_url:
        base = prefect_api_url.rstrip("/").removesuffix("/api")
    else:
        return None
    return _without_credentials(base).rstrip("/")


def flow_run_url(base: str | None, flow_run_id: str | None) -> str | None:
    if not base or not flow_run_id:
        return None
    return f"{base}/runs/flow-run/{flow_run_id}"
