"""The pluggable start of a rollback. The rollback flows come later; until a real starter is
given to `create_app(start_rollback=...)`, the endpoint answers 503 "rollback not available"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class RollbackUnavailable(Exception):
    """Rollbacks cannot be started (not deployed, Prefect down)."""


@dataclass(frozen=True)
class RollbackStarted:
    flow_run_id: str | None
    message: str


# (service, commit or None for an emergency rollback, reason) -> what was started
StartRollback = Callable[[str, str | None, str], Awaitable[RollbackStarted]]


async def rollback_not_available(service: str, commit: str | None, reason: str) -> RollbackStarted:
    raise RollbackUnavailable("rollback not available: the rollback flows are not deployed yet")
