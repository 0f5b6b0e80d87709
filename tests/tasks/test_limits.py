"""The global concurrency limits of tasks/limits.py hold back runs on a real Prefect server:
one bisection per service, and no more builds on a host than its build slots."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from build_monitor.prefect_runtime import in_current_context
from tasks.limits import BuildHostSettings, build_slot, one_bisection_per_service

pytestmark = pytest.mark.prefect


def most_at_once(hold: Callable[[], AbstractContextManager[None]], holders: int) -> int:
    """How many of `holders` threads were inside `hold()` at the same time, at most."""
    inside, most, lock = 0, 0, threading.Lock()
    start = threading.Barrier(holders)

    def run() -> None:
        nonlocal inside, most
        start.wait()
        with hold():
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(2)  # long enough for the others to try to enter meanwhile
            with lock:
                inside -= 1

    threads = [threading.Thread(target=in_current_context(run)) for _ in range(holders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return most


def test_one_bisection_per_service_at_a_time(prefect_api_url: str) -> None:
    service = f"limit-h7-{uuid.uuid4().hex[:6]}"
    assert most_at_once(lambda: one_bisection_per_service(service), 3) == 1


def test_a_host_runs_no_more_builds_than_its_slots(prefect_api_url: str) -> None:
    host = BuildHostSettings(build_host=f"host-h7-{uuid.uuid4().hex[:6]}", build_slots=2)
    assert most_at_once(lambda: build_slot(timeout_seconds=60, settings=host), 4) == 2
