"""The webhook outbox: every accepted delivery is recorded before it is answered, then relayed
to Prefect by one background worker. Rows still `emitted = False` (Prefect was down, the process
died) are picked up again by a periodic sweep and at startup, so an accepted delivery is never
lost; the unique (forge, delivery_id) makes a redelivery a no-op.

Pushes coalesce (build_monitor.webhooks.coalescing): a delivery whose service already has a
monitor run waiting to start is marked emitted without an event, since that run builds the newest
head. A delivery whose service had an event emitted moments ago, with no run created for it yet,
is held back unemitted; the next sweep decides again, so a trigger that never fired loses
nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from build_monitor.api.emitter import EventEmitter
from build_monitor.history.db import session_scope
from build_monitor.history.models import WebhookDelivery, utcnow
from build_monitor.webhooks.coalescing import awaiting_trigger, coalesce_push_events, push_services

logger = logging.getLogger("build_monitor.api.outbox")
# How long stopping waits for queued deliveries to be relayed.
STOP_DRAIN_SECONDS = 2.0
_sqlite_writer = threading.Lock()


@contextlib.contextmanager
def _writing(database_url: str) -> Iterator[None]:
    """SQLite allows one writer; queueing writers here instead of in SQLite's busy handler
    (which backs off in sleeps of up to 100 ms) keeps tail latency low."""
    if database_url.startswith("sqlite"):
        with _sqlite_writer:
            yield
    else:
        yield


def store_delivery(
    database_url: str,
    *,
    forge: str,
    delivery_id: str,
    event: str,
    services: Sequence[str],
    events: Sequence[dict[str, Any]],
) -> int | None:
    """Record an accepted delivery; None when this delivery was already recorded."""
    row = WebhookDelivery(
        forge=forge,
        delivery_id=delivery_id,
        service=services[0] if len(services) == 1 else None,
        event=event,
        payload=json.dumps(list(events)),
    )
    try:
        with _writing(database_url), session_scope(database_url) as session:
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def unemitted_ids(database_url: str, *, limit: int = 1000) -> list[int]:
    with session_scope(database_url) as session:
        statement = (
            select(WebhookDelivery.id)
            .where(col(WebhookDelivery.emitted).is_(False))
            .order_by(col(WebhookDelivery.id))
            .limit(limit)
        )
        return [i for i in session.exec(statement).all() if i is not None]


def count_unemitted(database_url: str) -> int:
    with session_scope(database_url) as session:
        statement = select(func.count()).where(col(WebhookDelivery.emitted).is_(False))
        return int(session.exec(statement).one())


def load_unemitted(database_url: str, ids: Sequence[int]) -> list[tuple[int, list[dict[str, Any]]]]:
    with session_scope(database_url) as session:
        statement = select(WebhookDelivery).where(
            col(WebhookDelivery.id).in_(list(ids)), col(WebhookDelivery.emitted).is_(False)
        )
        return [(row.id, json.loads(row.payload)) for row in session.exec(statement) if row.id]


def mark_emitted(database_url: str, ids: Sequence[int]) -> None:
    now = utcnow()
    with _writing(database_url), session_scope(database_url) as session:
        rows = session.exec(select(WebhookDelivery).where(col(WebhookDelivery.id).in_(list(ids))))
        for row in rows:
            row.emitted, row.emitted_at = True, now
            session.add(row)


class OutboxRelay:
    """One worker drains a queue of delivery ids in batches; a sweeper re-queues stored rows
    that are still unemitted. A single consumer means no row is emitted twice by this process."""

    def __init__(
        self,
        database_url: str,
        emitter: EventEmitter,
        *,
        sweep_interval_seconds: float,
        emit_timeout_seconds: float,
        batch_size: int = 200,
        batch_window_seconds: float = 0.25,
    ) -> None:
        self._database_url = database_url
        self._emitter = emitter
        self._sweep_interval = sweep_interval_seconds
        self._emit_timeout = emit_timeout_seconds
        self._batch_size = batch_size
        self._batch_window = batch_window_seconds
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._relaying = False
        self._queued: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.last_error: str | None = None
        self.emitted_count = 0
        self.coalesced_count = 0
        self._last_emitted: dict[str, datetime] = {}

    def notify(self, delivery_row_id: int) -> None:
        if delivery_row_id not in self._queued:
            self._queued.add(delivery_row_id)
            self._queue.put_nowait(delivery_row_id)

    async def sweep(self) -> int:
        """Queue every stored, unemitted delivery; returns how many were newly queued."""
        ids = await anyio.to_thread.run_sync(lambda: unemitted_ids(self._database_url))
        fresh = [i for i in ids if i not in self._queued]
        for row_id in fresh:
            self.notify(row_id)
        return len(fresh)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name="webhook-outbox-worker"),
            asyncio.create_task(self._sweep_forever(), name="webhook-outbox-sweeper"),
        ]

    async def stop(self) -> None:
        """Relay what is already queued (briefly: rows left unemitted are swept on the next
        start), then stop."""
        self._stopping.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self._emit_timeout, STOP_DRAIN_SECONDS)
        while (self._relaying or not self._queue.empty()) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                logger.warning("webhook outbox sweep failed: %s", exc)
            await asyncio.sleep(self._sweep_interval)

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            self._relaying = True
            # In a burst, one relay per window instead of one per few deliveries: every relay
            # asks Prefect about the service's runs, and intake shares this event loop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._batch_window)
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._relay(batch)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning(
                    "could not emit %d webhook deliveries to Prefect (will retry): %s",
                    len(batch),
                    self.last_error,
                )
            finally:
                self._queued.difference_update(batch)
                self._relaying = False

    async def _relay(self, batch: list[int]) -> None:
        rows = await anyio.to_thread.run_sync(lambda: load_unemitted(self._database_url, batch))
        if not rows:
            return
        events = [event for _, row_events in rows for event in row_events]
        services = push_services(events)
        now = utcnow()
        with anyio.fail_after(self._emit_timeout):
            runs = await self._emitter.monitor_runs(services, last_emitted=self._last_emitted)
        held: set[str] = set()
        waiting: set[str] = set()
        if runs is not None:
            waiting = runs.waiting
            held = services & awaiting_trigger(
                self._last_emitted, now=now, seen_runs=runs.created_since_emit | waiting
            )
        relayed = [(row_id, e) for row_id, e in rows if not push_services(e) & held]
        coalesced = coalesce_push_events(
            [event for _, row_events in relayed for event in row_events], waiting=waiting
        )
        with anyio.fail_after(self._emit_timeout):
            await self._emitter.emit(coalesced.events)
        for service in push_services(coalesced.events):
            self._last_emitted[service] = now
        ids = [row_id for row_id, _ in relayed]
        await anyio.to_thread.run_sync(lambda: mark_emitted(self._database_url, ids))
        self.emitted_count += len(coalesced.events)
        self.coalesced_count += coalesced.coalesced
        self.last_error = None
