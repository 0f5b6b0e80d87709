"""The Prefect global concurrency limits build-monitor occupies besides `rollback-<service>`:
one bisection per service at a time (`bisect-<service>`, one slot) and the build slots of a
build host (`build-slots-<host>`), so the workers of one host never run more builds at once than
it has slots for. Killed holders free their slot when its lease runs out (60 s)."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator

from prefect import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LEASE_SECONDS = 60  # the shortest Prefect allows


class BuildHostSettings(BaseSettings):
    """A worker host's build slots, from its environment."""

    model_config = SettingsConfigDict(env_prefix="build_monitor_", extra="ignore")

    # Names the slots' limit; workers that share one Docker engine should share one name.
    build_host: str = Field(default_factory=socket.gethostname)
    # Used when the host's limit is first created; change it later with `prefect gcl update`.
    build_slots: int = Field(default=1, ge=1, le=64)


def bisect_limit_name(service: str) -> str:
    return f"bisect-{service}"


def build_slots_limit_name(host: str) -> str:
    return "build-slots-" + re.sub(r"[^A-Za-z0-9._-]", "-", host)


def ensure_global_limit(name: str, slots: int, *, enforce: bool = True) -> None:
    """A global concurrency limit of `slots`, active (Prefect would create it inactive, which
    limits nothing). With `enforce=False` an existing limit keeps the size an operator gave it."""
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=slots, active=True)
                )
            return
        wanted = slots if enforce else existing.limit
        if existing.limit != wanted or not existing.active:
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(limit=wanted, active=True)
            )


@contextlib.contextmanager
def one_bisection_per_service(service: str) -> Iterator[None]:
    """Hold `bisect-<service>`: a second bisection of the service waits for the first."""
    name = bisect_limit_name(service)
    ensure_global_limit(name, 1)
    with concurrency(name, occupy=1, lease_duration=LEASE_SECONDS, strict=True):
        yield


@contextlib.contextmanager
def build_slot(timeout_seconds: float, settings: BuildHostSettings | None = None) -> Iterator[None]:
    """Hold one of this host's build slots for a build; raises TimeoutError after waiting
    `timeout_seconds` for one."""
    settings = settings or BuildHostSettings()
    name = build_slots_limit_name(settings.build_host)
    ensure_global_limit(name, settings.build_slots, enforce=False)
    with concurrency(
        name,
        occupy=1,
        timeout_seconds=timeout_seconds,
        lease_duration=LEASE_SECONDS,
        strict=True,
    ):
        yield
