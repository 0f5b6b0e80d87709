"""Pushes coalesce: at most one push event per service and batch, none for a service whose next
monitor run is already waiting, every other event kept, order kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from build_monitor.webhooks.coalescing import (
    TRIGGER_LAG,
    awaiting_trigger,
    coalesce_push_events,
    event_service,
)
from build_monitor.webhooks.events import PUSH_EVENT

SERVICES = st.sampled_from(["api", "embed", "face"])


def push(service: str, index: int) -> dict[str, Any]:
    return {"event": PUSH_EVENT, "id": f"{service}-{index}", "payload": {"service": service}}


def other(index: int) -> dict[str, Any]:
    return {"event": "build-monitor.other", "id": f"other-{index}", "payload": {}}


batches = st.lists(st.one_of(SERVICES, st.none()), max_size=30).map(
    lambda kinds: [push(kind, index) if kind else other(index) for index, kind in enumerate(kinds)]
)


@given(batches, st.sets(SERVICES))
def test_one_newest_push_per_service_that_has_no_waiting_run(
    events: list[dict[str, Any]], waiting: set[str]
) -> None:
    batch = coalesce_push_events(events, waiting=waiting)
    kept_pushes = [e for e in batch.events if event_service(e)]
    for service in {s for e in events if (s := event_service(e))}:
        mine = [e for e in events if event_service(e) == service]
        kept = [e for e in kept_pushes if event_service(e) == service]
        assert kept == ([] if service in waiting else [mine[-1]])
    assert [e for e in batch.events if not event_service(e)] == [
        e for e in events if not event_service(e)
    ]
    assert batch.coalesced == len(events) - len(batch.events)
    positions = [events.index(e) for e in batch.events]
    assert positions == sorted(positions)


def test_a_burst_for_one_service_becomes_its_newest_push() -> None:
    events = [push("api", 1), other(2), push("api", 3), push("face", 4), push("api", 5)]
    batch = coalesce_push_events(events, waiting=set())
    assert [e["id"] for e in batch.events] == ["other-2", "face-4", "api-5"]
    assert batch.coalesced == 2


def test_an_emitted_push_counts_as_waiting_until_its_run_is_seen_or_the_lag_ends() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    emitted = {"api": now - timedelta(seconds=2), "face": now - TRIGGER_LAG, "embed": now}
    assert awaiting_trigger(emitted, now=now, seen_runs=set()) == {"api", "embed"}
    assert awaiting_trigger(emitted, now=now, seen_runs={"api"}) == {"embed"}
