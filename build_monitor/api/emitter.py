"""Getting events to the Prefect server, and knowing they arrived.

`prefect.events.emit_event` hands events to a background worker and hides failures, so the
default emitter posts to the server's `POST /api/events` endpoint directly: a 204 means the
server accepted the events into its event pipeline, where deployment triggers see them.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from build_monitor.webhooks.events import monitor_deployment_name

# A monitor run scheduled this close to now counts as due: it starts as soon as it can.
_DUE_SLACK = timedelta(seconds=5)


class EmitError(Exception):
    """The events did not reach the Prefect server."""


@dataclass(frozen=True)
class MonitorRuns:
    """What the Prefect API says about the services' monitor runs."""

    waiting: set[str]  # a due monitor run that has not started (it will fetch the newest head)
    created_since_emit: set[str]  # a run created since our last push event for the service


class EventEmitter:
    """Base class: `emit` must raise when the events did not certainly arrive."""

    async def emit(self, events: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError

    async def monitor_runs(
        self, services: Collection[str], *, last_emitted: Mapping[str, datetime]
    ) -> MonitorRuns | None:
        """None when this sink cannot tell (then pushes coalesce only within a batch)."""
        return None

    async def check(self) -> str | None:
        """None when the event sink is reachable, else what is wrong."""
        return None

    async def aclose(self) -> None:
        return None


class PrefectEventsEmitter(EventEmitter):
    """Posts events to `<PREFECT_API_URL>/events`, authenticating like the Prefect client does."""

    def __init__(self, api_url: str | None = None, *, timeout_seconds: float = 5.0) -> None:
        self._api_url = api_url
        self._timeout = timeout_seconds
        self._client: httpx.AsyncClient | None = None

    def _ensure_client(self) -> httpx.AsyncClient:
        if self._client is None:
            from prefect.settings import get_current_settings

            settings = get_current_settings()
            api_url = self._api_url or settings.api.url
            if not api_url:
                raise EmitError("PREFECT_API_URL is not set: no Prefect server to send events to")
            headers: dict[str, str] = {}
            if settings.api.key is not None:
                headers["Authorization"] = f"Bearer {settings.api.key.get_secret_value()}"
            elif settings.api.auth_string is not None:
                raw = settings.api.auth_string.get_secret_value().encode()
                headers["Authorization"] = f"Basic {base64.b64encode(raw).decode()}"
            self._client = httpx.AsyncClient(
                base_url=api_url.rstrip("/") + "/", headers=headers, timeout=self._timeout
            )
        return self._client

    async def emit(self, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return
        try:
            response = await self._ensure_client().post("events", json=list(events))
        except httpx.HTTPError as exc:
            raise EmitError(f"Prefect API unreachable: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise EmitError(f"Prefect API answered {response.status_code} to POST /events")

    async def monitor_runs(
        self, services: Collection[str], *, last_emitted: Mapping[str, datetime]
    ) -> MonitorRuns | None:
        now = datetime.now(UTC)
        waiting: set[str] = set()
        created: set[str] = set()
        try:
            for service in services:
                # Created first, then waiting: a run the trigger creates between the two reads
                # is then seen waiting, never mistaken for one that already started.
                emitted_at = last_emitted.get(service)
                if emitted_at is not None and await self._any_run(
                    service, after=emitted_at - timedelta(seconds=1), before=now + _DUE_SLACK
                ):
                    created.add(service)
                due = {"type": {"any_": ["SCHEDULED", "PENDING"]}}
                if await self._any_run(service, state=due, before=now + _DUE_SLACK):
                    waiting.add(service)
        except httpx.HTTPError as exc:
            raise EmitError(f"Prefect API unreachable: {type(exc).__name__}") from None
        return MonitorRuns(waiting=waiting, created_since_emit=created)

    async def _any_run(
        self,
        service: str,
        *,
        before: datetime,
        after: datetime | None = None,
        state: dict[str, Any] | None = None,
    ) -> bool:
        start: dict[str, str] = {"before_": before.isoformat()}
        if after is not None:
            start["after_"] = after.isoformat()
        runs: dict[str, Any] = {"expected_start_time": start}
        if state is not None:
            runs["state"] = state
        body = {
            "deployments": {"name": {"any_": [monitor_deployment_name(service)]}},
            "flow_runs": runs,
            "limit": 1,
        }
        response = await self._ensure_client().post("flow_runs/filter", json=body)
        if response.status_code >= 300:
            raise EmitError(f"Prefect API answered {response.status_code} to flow_runs/filter")
        return bool(response.json())

    async def check(self) -> str | None:
        try:
            response = await self._ensure_client().get("health")
        except EmitError as exc:
            return str(exc)
        except httpx.HTTPError as exc:
            return f"Prefect API unreachable: {type(exc).__name__}"
        return (
            None if response.status_code == 200 else f"Prefect API answered {response.status_code}"
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
