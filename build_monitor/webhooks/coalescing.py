"""Pushes coalesce: a monitor run builds the branch head, so a service needs at most one monitor
run that has not started yet. A batch of push events becomes at most one event per service, and
none for a service whose next run is already waiting (it will see the newer head when it starts).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from build_monitor.webhooks.events import PUSH_EVENT

# How long after emitting a push event its trigger may take to create the run; within it the
# emitted event counts as a waiting run, so a burst does not emit one event per batch. A busy
# Prefect server on SQLite took over 15 s; past the lag the push is emitted again, which costs a
# run but never loses a push.
TRIGGER_LAG = timedelta(seconds=60)


@dataclass(frozen=True)
class CoalescedBatch:
    events: list[dict[str, Any]]
    coalesced: int  # push events dropped because a waiting run (or a newer event) covers them


def event_service(event: Mapping[str, Any]) -> str | None:
    if event.get("event") != PUSH_EVENT:
        return None
    service = event.get("payload", {}).get("service")
    return service if isinstance(service, str) else None


def push_services(events: Sequence[Mapping[str, Any]]) -> set[str]:
    return {service for event in events if (service := event_service(event))}


def coalesce_push_events(
    events: Sequence[dict[str, Any]], *, waiting: Collection[str]
) -> CoalescedBatch:
    """Keep every non-push event, and per service only the newest push event unless a run of
    that service is `waiting` to start. Order is kept."""
    newest: dict[str, int] = {}
    for index, event in enumerate(events):
        if (service := event_service(event)) is not None:
            newest[service] = index
    kept = [
        event
        for index, event in enumerate(events)
        if (service := event_service(event)) is None
        or (service not in waiting and newest[service] == index)
    ]
    return CoalescedBatch(events=kept, coalesced=len(events) - len(kept))


def awaiting_trigger(
    last_emitted: Mapping[str, datetime], *, now: datetime, seen_runs: Collection[str]
) -> set[str]:
    """Services whose last emitted push has no run yet, within the trigger's lag."""
    return {
        service
        for service, emitted_at in last_emitted.items()
        if service not in seen_runs and now - emitted_at < TRIGGER_LAG
    }
